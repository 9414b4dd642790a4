"""FilterCriteria on delivered DynamoDB records: every operator, OR of filters, validation."""

from __future__ import annotations

import json

import pytest

from streamlab.emulator.esm.filtering import InvalidFilterCriteria, RecordFilter, validate_filter_criteria

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"


def record(event_name="INSERT", new_image=None, old_image=None, created=1767323045):
    dynamodb = {
        "ApproximateCreationDateTime": created,
        "Keys": {"id": {"S": "order-1"}},
        "SequenceNumber": "100",
        "SizeBytes": 42,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new_image is not None:
        dynamodb["NewImage"] = new_image
    if old_image is not None:
        dynamodb["OldImage"] = old_image
    return {
        "eventID": "e1",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


def only(*patterns):
    return RecordFilter.from_criteria({"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})


def image(**attributes):
    return {"id": {"S": "order-1"}, **attributes}


def test_no_criteria_means_no_filter():
    assert RecordFilter.from_criteria(None) is None
    assert RecordFilter.from_criteria({"Filters": []}) is None


def test_exact_match_on_event_name_at_top_level():
    f = only({"eventName": ["INSERT"]})
    assert f.matches(record("INSERT"))
    assert not f.matches(record("MODIFY"))


def test_exact_match_needs_the_type_descriptor():
    typed = only({"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}})
    untyped = only({"dynamodb": {"NewImage": {"status": ["PAID"]}}})
    paid = record(new_image=image(status={"S": "PAID"}))
    assert typed.matches(paid)
    assert not untyped.matches(paid)  # omitting "S" does not match (LocalStack AWS snapshot)
    assert not typed.matches(record(new_image=image(status={"S": "OPEN"})))


def test_prefix_and_suffix():
    assert only({"dynamodb": {"NewImage": {"region": {"S": [{"prefix": "us-1"}]}}}}).matches(
        record(new_image=image(region={"S": "us-1-other-suffix"}))
    )
    assert not only({"dynamodb": {"NewImage": {"region": {"S": [{"prefix": "us-1"}]}}}}).matches(
        record(new_image=image(region={"S": "other-suffix"}))
    )
    f = only({"dynamodb": {"NewImage": {"file": {"S": [{"suffix": ".png"}]}}}})
    assert f.matches(record(new_image=image(file={"S": "cat.png"})))
    assert not f.matches(record(new_image=image(file={"S": "cat.jpg"})))


def test_anything_but():
    f = only({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["CANCELLED", "REFUNDED"]}]}}}})
    assert f.matches(record(new_image=image(status={"S": "PAID"})))
    assert not f.matches(record(new_image=image(status={"S": "CANCELLED"})))
    prefix = only({"eventName": [{"anything-but": {"prefix": "REM"}}]})
    assert prefix.matches(record("INSERT"))
    assert not prefix.matches(record("REMOVE"))


def test_numeric_applies_to_numbers_not_to_n_attributes():
    # AWS snapshot "numeric_filter": N values are strings; only anything-but "101" can match.
    f = only({"dynamodb": {"NewImage": {"amount": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}})
    assert f.matches(record(new_image=image(amount={"N": "42"})))
    assert not f.matches(record(new_image=image(amount={"N": "101"})))
    created = only({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}})
    assert created.matches(record())
    window = only({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">=", 100, "<", 200]}]}})
    assert window.matches(record(created=150))
    assert not window.matches(record(created=200))
    exact = only({"dynamodb": {"SizeBytes": [{"numeric": ["=", 42]}]}})
    assert exact.matches(record())


def test_exists_true_and_false_on_leaves():
    present = only({"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": True}]}}}})
    absent = only({"dynamodb": {"NewImage": {"presentKey": [{"exists": False}]}}})
    with_key = record(new_image=image(presentKey={"S": "presentValue"}))
    without_key = record(new_image=image())
    assert present.matches(with_key)
    assert not present.matches(without_key)
    assert absent.matches(without_key)
    # AWS snapshot "exists_false_filter": the record with the key also passed, because exists
    # only applies to leaves and presentKey is an object ({"S": ...}), not a leaf.
    assert absent.matches(with_key)


def test_equals_ignore_case():
    f = only({"dynamodb": {"NewImage": {"status": {"S": [{"equals-ignore-case": "paid"}]}}}})
    assert f.matches(record(new_image=image(status={"S": "PaId"})))
    assert not f.matches(record(new_image=image(status={"S": "open"})))


def test_wildcard():
    f = only({"dynamodb": {"NewImage": {"path": {"S": [{"wildcard": "orders/*/paid"}]}}}})
    assert f.matches(record(new_image=image(path={"S": "orders/2026/paid"})))
    assert not f.matches(record(new_image=image(path={"S": "orders/2026/open"})))


def test_or_inside_a_pattern():
    f = only({"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}}]})
    assert f.matches(record("REMOVE", old_image=image()))
    assert f.matches(record("INSERT", new_image=image(status={"S": "PAID"})))
    assert not f.matches(record("INSERT", new_image=image(status={"S": "OPEN"})))


def test_several_values_and_several_fields():
    f = only({"eventName": ["INSERT", "MODIFY"], "eventSource": ["aws:dynamodb"]})
    assert f.matches(record("INSERT"))
    assert f.matches(record("MODIFY"))
    assert not f.matches(record("REMOVE"))


def test_filters_are_ored():
    f = only({"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}})
    assert f.matches(record("REMOVE"))
    assert f.matches(record(new_image=image(status={"S": "PAID"})))
    assert not f.matches(record(new_image=image(status={"S": "OPEN"})))


@pytest.mark.parametrize(
    "pattern",
    [
        "single-string",
        '[{"eventName": ["INSERT"=123}]',  # AWS snapshot: invalid JSON
        '["INSERT"]',
        '{"eventName": "INSERT"}',  # values must be arrays or objects
        '{"eventName": []}',
        '{"eventName": [{"unknown-op": "x"}]}',
        '{"eventName": [{"prefix": 1}]}',
        '{"eventName": [{"exists": "yes"}]}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">", "10"]}]}}',
        '{"dynamodb": {"SizeBytes": [{"numeric": ["~", 10]}]}}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">", 10, ">", 20]}]}}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">", 30, "<", 20]}]}}',
        '{"eventName": [{"anything-but": []}]}',
        '{"eventName": [{"prefix": "a", "suffix": "b"}]}',
        '{"$or": [{"eventName": ["INSERT"]}]}',
        '{"eventName": [["nested"]]}',
    ],
)
def test_invalid_patterns_are_refused_with_aws_message(pattern):
    with pytest.raises(InvalidFilterCriteria) as caught:
        validate_filter_criteria({"Filters": [{"Pattern": pattern}]})
    assert caught.value.message == "Invalid filter pattern definition."


def test_too_many_filters_and_malformed_criteria():
    six = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}] * 6}
    with pytest.raises(InvalidFilterCriteria):
        validate_filter_criteria(six)
    validate_filter_criteria(six, max_filters=10)  # the quota AWS can raise
    for bad in ({"Filters": "x"}, {"Filters": [{"NoPattern": "{}"}]}, ["x"]):
        with pytest.raises(InvalidFilterCriteria):
            validate_filter_criteria(bad)


def test_valid_patterns_pass_validation():
    for pattern in (
        {"eventName": ["INSERT", None]},
        {"dynamodb": {"NewImage": {"a": {"S": [{"prefix": {"equals-ignore-case": "AB"}}]}}}},
        {"dynamodb": {"NewImage": {"a": {"S": [{"anything-but": {"suffix": "x"}}]}}}},
        {"dynamodb": {"SizeBytes": [{"numeric": [">", 0, "<=", 5]}]}},
        {"$or": [{"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}]},
    ):
        validate_filter_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]})
