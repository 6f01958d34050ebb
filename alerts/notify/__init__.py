"""Notifications that reach people away from the desk: the channels (Web
Push, email, SMS / KakaoTalk), the per-user preferences and quiet hours, and
the durable delivery rows that a Celery task sends and a beat sweeper
re-sends (alerts.notify.services)."""
