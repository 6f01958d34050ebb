from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in and safety for people: the policy (staff need a second factor,
    sessions expire), the guards that apply it to pages, the API and browser
    sockets, and the allauth and django-axes adapters."""

    name = "accounts"

    def ready(self) -> None:
        import accounts.receivers  # noqa: F401  (connects the sign-in receivers by importing)
        from accounts import socket_receivers

        socket_receivers.connect()
