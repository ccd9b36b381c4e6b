from django.conf import settings
from django.db import models


class Account(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    points = models.IntegerField(default=0)
    favourite = models.ForeignKey("catalogue_extra.Badge", null=True, blank=True, on_delete=models.SET_NULL)
