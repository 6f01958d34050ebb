from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("export/<slug:table>.csv", views.export_csv, name="export"),
    path("signals/<int:signal_id>/", views.signal_detail, name="signal"),
]
