from django.urls import path

from workers import views

app_name = "workers"

urlpatterns = [
    path("", views.home, name="home"),
    path("workers/<int:worker_id>/", views.worker_detail, name="worker-detail"),
    path("desk/sites/<int:site_id>/", views.site_overview, name="desk-site"),
]
