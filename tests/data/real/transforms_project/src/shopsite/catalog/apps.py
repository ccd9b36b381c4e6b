from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "shopsite.catalog"
    label = "catalog"
