"""Names for apps, models, fields, indexes and constraints.

Two schemes: "faker" draws English words from Faker's seeded word list (names a
reader can tell apart in a traceback), "plain" counts (app001.Model0003.f0002),
which is what you want when diffing two generated trees. Either way names are
unique where Django needs them to be and never shadow anything: Python
keywords, attributes of models.Model, contrib app labels, or each other (a
model's lower-cased name is a reverse accessor on its multi-table parents, so
model and field names are kept disjoint project-wide).
"""

from __future__ import annotations

import functools
import keyword
import random

# Attributes of django.db.models.Model and friends a field must not shadow.
_MODEL_ATTRIBUTES = {
    "check", "clean", "clean_fields", "date_error_message", "delete", "from_db",
    "full_clean", "get_deferred_fields", "objects", "pk", "prepare_database_save",
    "refresh_from_db", "save", "save_base", "serializable_value", "unique_error_message",
    "validate_unique", "validate_constraints", "adelete", "asave", "arefresh_from_db",
    "meta", "id", "model", "models", "migrations", "fields", "self", "django", "object",
    "str", "type", "property", "list", "dict", "set", "format", "file", "open", "print",
}
_APP_LABELS_TAKEN = {
    "admin", "auth", "contenttypes", "sessions", "sites", "messages", "staticfiles",
    "migrations", "apps", "benchproject", "django", "test", "tests",
}
_CLASS_NAMES_TAKEN = {"Model", "Manager", "Migration", "Q", "F", "Index", "Decimal"}


@functools.lru_cache(maxsize=1)
def _faker_words() -> tuple[str, ...]:
    from faker.providers.lorem.en_US import Provider

    words = []
    for word in Provider.word_list:
        if len(word) >= 3 and word.isascii() and word.isalpha() and word.islower():
            if not keyword.iskeyword(word) and word not in _MODEL_ATTRIBUTES:
                words.append(word)
    return tuple(sorted(set(words)))


class Namer:
    """Hands out names; one instance per generated project (it remembers what it gave)."""

    def __init__(self, scheme: str, rng: random.Random):
        self.scheme = scheme
        self.rng = rng
        self.words = _faker_words() if scheme == "faker" else ()
        self.app_labels: set[str] = set()
        self.model_lowers: set[str] = set()  # every model name ever handed out, lower-cased
        self.field_names: set[str] = set()  # every field name ever handed out
        self.related_names: set[str] = set()
        self.counter = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    # -- apps ----------------------------------------------------------------
    def app_label(self) -> str:
        while True:
            if self.scheme == "plain":
                label = "app%03d" % (len(self.app_labels) + 1)
            else:
                label = self.rng.choice(self.words)
                if label in self.app_labels:  # words run out on very large projects
                    label = "%s%d" % (label, len(self.app_labels))
            if label not in self.app_labels and label not in _APP_LABELS_TAKEN:
                self.app_labels.add(label)
                return label

    # -- models --------------------------------------------------------------
    def model_name(self, taken_in_app: set[str]) -> str:
        """A CamelCase name unique (case-insensitively) in its app, never a field name."""
        while True:
            if self.scheme == "plain":
                name = "Model%04d" % self._next()
            else:
                parts = [self.rng.choice(self.words) for _ in range(self.rng.choice((1, 2)))]
                name = "".join(part.capitalize() for part in parts)
            lower = name.lower()
            if (
                not keyword.iskeyword(name)  # "true".capitalize() is True
                and lower not in taken_in_app
                and lower not in self.field_names
                and name not in _CLASS_NAMES_TAKEN
            ):
                self.model_lowers.add(lower)
                return name

    def abstract_base_name(self, taken_in_app: set[str]) -> str:
        name = self.model_name(taken_in_app)
        return name + "Base"

    # -- fields --------------------------------------------------------------
    def field_name(self, taken: set[str]) -> str:
        """A field name not in `taken` (the model's family), never a model name."""
        while True:
            if self.scheme == "plain":
                name = "f%04d" % self._next()
            elif self.rng.random() < 0.7:
                name = self.rng.choice(self.words)
            else:
                name = "%s_%s" % (self.rng.choice(self.words), self.rng.choice(self.words))
            if name not in taken and name not in self.model_lowers:
                self.field_names.add(name)
                return name

    def related_name(self, app: str, model: str, field: str) -> str:
        """Reverse accessor: unique project-wide, three parts so no field can equal it."""
        base = "%s_%s_%s" % (app, model.lower(), field)
        name, suffix = base, 1
        while name in self.related_names:
            suffix += 1
            name = "%s%d" % (base, suffix)
        self.related_names.add(name)
        return name

    # -- database objects ----------------------------------------------------
    def db_object_name(self, app: str, model: str, suffix: str) -> str:
        """Index/constraint name: unique in the database and <= 30 chars (Index limit)."""
        return "%s_%s_%d_%s" % (app[:7], model.lower()[:7], self._next(), suffix)
