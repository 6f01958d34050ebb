"""Pages under /consultations/ (namespace "consultations") and the JSON API,
included by healthhub.urls under /api/v1/consultations/ (namespace "api")."""

from django.urls import path, re_path

from consultations import apis, views

app_name = "consultations"

urlpatterns = [
    path("", views.consultation_list, name="list"),
    path("new/", views.consultation_new, name="new"),
    path("from-alert/<int:alert_id>/", views.consultation_from_alert, name="from-alert"),
    path("<int:consultation_id>/", views.consultation_detail, name="detail"),
    path("<int:consultation_id>/take/", views.consultation_take, name="take"),
    path("<int:consultation_id>/messages/", views.message_send, name="message"),
    path("<int:consultation_id>/notes/", views.note_add, name="note"),
    path("<int:consultation_id>/recommendations/", views.recommendation_add, name="recommendation"),
    path("<int:consultation_id>/close/", views.consultation_close, name="close"),
    path("<int:consultation_id>/clearances/", views.clearance_record, name="clearance"),
    path("photos/<int:photo_id>/", views.photo, name="photo"),
]

api_urlpatterns = [
    path("", apis.ConsultationListApi.as_view(), name="consultations"),
    path("from-alert/<int:alert_id>/", apis.FromAlertApi.as_view(), name="consultation-from-alert"),
    path("<int:consultation_id>/", apis.ConsultationDetailApi.as_view(), name="consultation"),
    path("<int:consultation_id>/take/", apis.TakeApi.as_view(), name="consultation-take"),
    path("<int:consultation_id>/messages/", apis.MessagesApi.as_view(), name="consultation-messages"),
    re_path(
        r"^(?P<consultation_id>[0-9]+)/messages/(?P<mark>delivered|read)/$",
        apis.MarksApi.as_view(),
        name="consultation-marks",
    ),
    path("<int:consultation_id>/notes/", apis.NotesApi.as_view(), name="consultation-notes"),
    path(
        "<int:consultation_id>/recommendations/", apis.RecommendationsApi.as_view(), name="consultation-recommendations"
    ),
    path("<int:consultation_id>/close/", apis.CloseApi.as_view(), name="consultation-close"),
    path("<int:consultation_id>/clearances/", apis.ClearancesApi.as_view(), name="consultation-clearances"),
]
