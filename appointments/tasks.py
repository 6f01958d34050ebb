from celery import shared_task

from appointments import services


@shared_task
def send_reminders() -> int:
    return services.appointment_reminders_send()


@shared_task
def close_past() -> tuple[int, int]:
    return services.appointments_close_past()
