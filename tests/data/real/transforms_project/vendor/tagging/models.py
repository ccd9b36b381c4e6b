from django.db import models


class Tag(models.Model):
    name = models.SlugField(unique=True)


class TaggedProduct(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE)
