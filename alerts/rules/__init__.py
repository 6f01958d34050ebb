"""The risk rules: pure functions over a window of readings, the worker's
profile and baseline, and the site's thresholds. No I/O anywhere in this
package, so every rule is tested with plain tables of cases.

Each rule returns ``Evaluation``s: for its alert kind, the condition is
active (with a severity and the evidence), clear (cleared by the hysteresis
margin), or held (inside the margin, or too little data to tell): only
``clear`` lets an open alert resolve, so values hovering at a threshold do
not flap.
"""
