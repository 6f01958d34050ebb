"""A new worker's first sign-in: the one-time code from the sheet their
site administrator printed (typed, or opened from its QR code) signs them
in once, and they choose their own password."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from workers.forms import SignInCodeForm
from workers.services import sign_in_code_redeem

# Set when a code signed this session in: the password page asks for no old
# password then (the worker has none yet).
SESSION_FIRST_LOGIN = "healthhub_first_login"


@never_cache
@sensitive_post_parameters("code")
def first_login(request: HttpRequest) -> HttpResponse:
    """GET shows the code form (filled from ``?code=`` when opened from the
    QR code, so the code is never used by merely opening the link: a link
    preview must not burn it); POST redeems it."""
    form = SignInCodeForm(request.POST or None, initial={"code": request.GET.get("code", "")[:32]})
    if request.method == "POST" and form.is_valid():
        user = sign_in_code_redeem(code=form.cleaned_data["code"])
        if user is not None:
            login(request, user, backend="allauth.account.auth_backends.AuthenticationBackend")
            request.session[SESSION_FIRST_LOGIN] = True
            return redirect("first-login-password")
        form.add_error(
            "code",
            _(
                "This code does not work: it may be mistyped, used or expired. "
                "Ask your site administrator for a new sheet."
            ),
        )
    return render(request, "workers/first_login.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@login_required
@sensitive_post_parameters("new_password1", "new_password2")
def first_login_password(request: HttpRequest) -> HttpResponse:
    """Choose a password, once, right after signing in with a code."""
    if not request.session.get(SESSION_FIRST_LOGIN):
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SetPasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        del request.session[SESSION_FIRST_LOGIN]
        messages.success(request, _("Your password is set. Sign in with your employee number and it from now on."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "workers/first_login_password.html", {"form": form})
