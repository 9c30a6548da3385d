from django.contrib import admin
from django.urls import path

from bodies import views as bodies

urlpatterns = [
    path("admin/", admin.site.urls),
    path("body/", bodies.body),
    path("upload/", bodies.upload),
]
