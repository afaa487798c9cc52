"""Widgets and fields: options with their help, and pickers that show why a choice is
disabled."""

from django import forms


class DescribedRadioSelect(forms.RadioSelect):
    """Radio buttons, each with what it does (`option.data.description`)."""

    def __init__(self, *args, descriptions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs.setdefault("class", "form-check-input")
        self.descriptions = descriptions or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["description"] = self.descriptions.get(str(value), "")
        if option["description"]:
            option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_help"
        return option


class PickerMixin:
    """Options carry a `detail` (e.g. "3 main members") and a `reason` why they cannot be
    chosen; an option with a reason is rendered disabled."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs.setdefault("class", "form-check-input")
        self.reasons: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        key = str(value)
        option["reason"] = self.reasons.get(key, "")
        option["detail"] = self.details.get(key, "")
        if option["reason"]:
            option["attrs"]["disabled"] = True
            option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_reason"
        return option


class PickerCheckboxes(PickerMixin, forms.CheckboxSelectMultiple):
    pass


class PickerRadios(PickerMixin, forms.RadioSelect):
    pass


class ObjectChoicesMixin:
    """Choices made of objects the form reads once; `set_objects` fills them, with the
    reasons (disabled) and details the picker widget shows beside each."""

    def __init__(self, *args, empty_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.objects: dict[str, object] = {}
        self.empty_text = empty_text

    def set_objects(self, objects, reasons=None, details=None) -> None:
        self.objects = {str(o.pk): o for o in objects}
        self.choices = [(str(o.pk), str(o)) for o in objects]
        self.widget.reasons = reasons or {}
        self.widget.details = details or {}


class ObjectsField(ObjectChoicesMixin, forms.MultipleChoiceField):
    """Checkboxes over objects read once by the form; cleans to a list of those objects."""

    widget = PickerCheckboxes

    def clean(self, value):
        return [self.objects[v] for v in super().clean(value)]

    def prepare_value(self, value):
        return [str(getattr(v, "pk", v)) for v in value or []]


class ObjectField(ObjectChoicesMixin, forms.ChoiceField):
    """One object out of a list, as radio buttons (cleans to the object or None)."""

    widget = PickerRadios

    def clean(self, value):
        value = super().clean(value)
        return self.objects.get(value) if value else None

    def prepare_value(self, value):
        return str(getattr(value, "pk", value)) if value else ""


def described(choices, descriptions: dict, **kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=choices, widget=DescribedRadioSelect(descriptions=descriptions), **kwargs
    )
