from django.db import models


class Badge(models.Model):
    name = models.CharField(max_length=80, unique=True)
    colour = models.CharField(max_length=20, default="grey")
    product = models.ForeignKey("catalogue.Product", null=True, blank=True, on_delete=models.CASCADE)


class Ribbon(models.Model):
    badge = models.ForeignKey(Badge, on_delete=models.CASCADE)
    text = models.TextField(blank=True)
