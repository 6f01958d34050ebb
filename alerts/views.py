"""The notification settings page, for everyone who signs in: the devices
that get Web Push (subscribe, name, remove, test) and which severities reach
the user by which channel, with quiet hours."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts.forms import DeviceNameForm, PreferenceForm
from alerts.notify import services as notify
from alerts.notify.push import push_enabled
from alerts.notify.selectors import preference_of, subscriptions_of
from workers.roles import worker_of


def _service_worker(request: HttpRequest) -> tuple[str, str]:
    """(script, scope): the worker portal's own service worker (which
    imports the push handler) for workers, so the installed portal gets the
    notifications; the push handler alone for everyone else."""
    if worker_of(request.user) is not None:
        return reverse("portal:service-worker"), reverse("portal:today")
    script = static("js/push_sw.js")
    return script, script.rsplit("/", 1)[0] + "/"


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    pref = preference_of(request.user)
    if request.method == "POST":
        form = PreferenceForm.for_preference(pref, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            notify.preference_save(
                user=request.user,
                channels={c: data[c] for c in ("push", "email", "sms")},
                phone=data["phone"],
                quiet_start=data["quiet_start"],
                quiet_end=data["quiet_end"],
                language=data["language"],
                time_zone=data["time_zone"],
            )
            messages.success(request, _("Your notification settings are saved."))
            return redirect("alerts:notifications")
    else:
        form = PreferenceForm.for_preference(pref)
    script, scope = _service_worker(request)
    context = {
        "form": form,
        "devices": subscriptions_of(request.user),
        "push_enabled": push_enabled(),
        "vapid_public_key": settings.NOTIFY["VAPID_PUBLIC_KEY"] if push_enabled() else "",
        "sw_script": script,
        "sw_scope": scope,
        "has_email": bool(request.user.email),
    }
    return render(request, "alerts/notifications.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def device_rename(request: HttpRequest, subscription_id: int) -> HttpResponse:
    form = DeviceNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A device name is 1 to 80 characters."))
    elif not notify.subscription_rename(
        user=request.user, subscription_id=subscription_id, name=form.cleaned_data["name"]
    ):
        raise Http404
    return redirect("alerts:notifications")


@login_required
@require_POST
def device_remove(request: HttpRequest, subscription_id: int) -> HttpResponse:
    if not notify.subscription_remove(user=request.user, subscription_id=subscription_id):
        raise Http404
    messages.success(request, _("The device will no longer be notified."))
    return redirect("alerts:notifications")


@login_required
@require_POST
def device_test(request: HttpRequest) -> HttpResponse:
    delivered, devices = notify.push_test(user=request.user)
    if devices == 0:
        messages.error(request, _("No device is subscribed yet."))
    elif delivered == devices:
        messages.success(request, _("A test notification went to each of your devices."))
    else:
        messages.error(
            request,
            _("The test notification reached %(delivered)s of %(devices)s devices.")
            % {"delivered": delivered, "devices": devices},
        )
    return redirect("alerts:notifications")
