"""List pages: the filters a person filled in, and one page of the rows they select.

A list page reads its filter form from the query string. A value left blank filters
nothing (`filtered`); free text matches any of several columns (`contains_any`). When
the form is not valid, every row is listed and the page says why (`_filter_errors.html`);
`list_page` does that and hands the template the form and one page of rows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import Any, TypeVar

from django import forms
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

M = TypeVar("M", bound=Model)


def filtered(queryset: QuerySet[M], **lookups: Any) -> QuerySet[M]:
    """`queryset` filtered on each lookup given a value, in order; a blank one ("", None,
    an empty list) is a filter left out."""
    for lookup, value in lookups.items():
        if value:
            queryset = queryset.filter(**{lookup: value})
    return queryset


def contains_any(text: str, *fields: str) -> Q:
    """Rows where any of `fields` contains `text`, ignoring case."""
    return reduce(operator.or_, (Q(**{f"{field}__icontains": text}) for field in fields))


def list_page(
    request: HttpRequest,
    template: str,
    form: forms.Form,
    rows: Callable[[dict[str, Any]], QuerySet[Any]],
    *,
    per_page: int,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """The page the request asks for of the rows `form`'s filters select (all rows when
    the form is not valid), rendered with `template` as `form` and `page` (and `context`)."""
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(rows(filters), per_page).get_page(request.GET.get("page"))
    return render(request, template, {**(context or {}), "form": form, "page": page})
