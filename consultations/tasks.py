from celery import shared_task

from consultations import questions


@shared_task
def mark_overdue_questions() -> int:
    return questions.questions_mark_overdue()
