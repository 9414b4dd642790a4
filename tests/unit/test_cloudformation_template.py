"""The CloudFormation template language: reading YAML/JSON, intrinsics, conditions, parameters, ordering."""

from __future__ import annotations

import os
from typing import Any

import pytest

from streamlab.emulator.cloudformation import parameters, template
from streamlab.emulator.cloudformation.exceptions import TemplateError, ValidationError
from streamlab.emulator.cloudformation.graph import creation_order
from streamlab.emulator.cloudformation.intrinsics import REMOVED, Evaluator

PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::StackName": "shop"}


def test_short_form_tags_become_long_form_and_dates_stay_text() -> None:
    loaded = template.load(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: !Sub '${AWS::StackName}-q'\n"
        "      Tags:\n"
        "        - {Key: a, Value: !GetAtt Other.Arn}\n"
        "        - {Key: b, Value: !Join ['-', [!Ref X, !Select [0, !GetAZs '']]]}\n"
    )
    assert loaded["AWSTemplateFormatVersion"] == "2010-09-09"
    properties = loaded["Resources"]["Q"]["Properties"]
    assert properties["QueueName"] == {"Fn::Sub": "${AWS::StackName}-q"}
    assert properties["Tags"][0]["Value"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert properties["Tags"][1]["Value"] == {
        "Fn::Join": ["-", [{"Ref": "X"}, {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources:\n  Q:\n    Type: [\n", "Template format error: YAML not well-formed. (line "),
        ('{"Resources": {', "Template format error: JSON not well-formed."),
        ("Resources: {}\n", "Template format error: At least one Resources member must be defined."),
        ("Resources:\n  Q: {Properties: {}}\n", "Every Resources object must contain a Type member."),
        ("Resoures:\n  Q: {Type: AWS::SQS::Queue}\n", "Invalid template property or properties [Resoures]"),
    ],
)
def test_malformed_templates_get_cloudformations_wording(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        template.load(text)
    assert message in str(error.value)


def _evaluator(**kwargs: Any) -> Evaluator:
    return Evaluator(parameters={"Stage": "prod", "Sizes": ["s", "m"]}, pseudo=PSEUDO, **kwargs)


def test_intrinsics_resolve_against_parameters_resources_and_attributes() -> None:
    evaluator = _evaluator(
        resources={"Table"},
        physical_ids={"Table": "shop-Table-1"},
        attribute=lambda logical_id, name: f"arn:{logical_id}:{name}",
        mappings={"Memory": {"prod": {"mb": 1024}}},
    )
    assert evaluator.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Table}-${Table.Arn}-${!Literal}"}) == (
        "shop-prod-shop-Table-1-arn:Table:Arn-${Literal}"
    )
    assert evaluator.resolve({"Fn::Sub": ["${A}/${B}", {"A": "x", "B": {"Ref": "Stage"}}]}) == "x/prod"
    assert evaluator.resolve({"Fn::Join": [",", {"Ref": "Sizes"}]}) == "s,m"
    assert evaluator.resolve({"Fn::Select": ["1", {"Fn::Split": ["|", "a|b|c"]}]}) == "b"
    assert evaluator.resolve({"Fn::FindInMap": ["Memory", {"Ref": "Stage"}, "mb"]}) == 1024
    assert evaluator.resolve({"Fn::Base64": "hi"}) == "aGk="
    assert evaluator.resolve({"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    # AWS::NoValue removes the property or the list item.
    assert evaluator.resolve({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}, 2]}) == {"B": [1, 2]}


def test_conditions_if_and_boolean_functions() -> None:
    evaluator = _evaluator(
        condition_definitions={
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
            "Either": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
            "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        }
    )
    assert (evaluator.condition("IsProd"), evaluator.condition("IsDev")) == (True, False)
    assert (evaluator.condition("Either"), evaluator.condition("Both")) == (True, False)
    assert evaluator.resolve({"Fn::If": ["IsDev", "small", "big"]}) == "big"
    assert evaluator.resolve({"Fn::If": ["IsDev", "small", {"Ref": "AWS::NoValue"}]}) is REMOVED
    with pytest.raises(TemplateError):
        evaluator.condition("Unknown")


def test_references_and_attributes_that_do_not_exist_are_template_errors() -> None:
    evaluator = _evaluator(resources={"Table"}, physical_ids={"Table": "t"}, attribute=_no_attribute)
    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[Nope\]"):
        evaluator.resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="resource Table does not support attribute type Colour in Fn::GetAtt"):
        evaluator.resolve({"Fn::GetAtt": ["Table", "Colour"]})
    with pytest.raises(TemplateError, match="No export named missing found"):
        evaluator.resolve({"Fn::ImportValue": "missing"})


def _no_attribute(logical_id: str, name: str) -> str:
    raise KeyError(name)


def test_static_evaluation_marks_resource_references() -> None:
    evaluator = _evaluator(resources={"Table"}, static=True)
    assert evaluator.resolve({"Fn::Sub": "${Table}/${Table.Arn}"}) == "{{Ref:Table}}/{{GetAtt:Table.Arn}}"


def test_creation_order_follows_references_and_depends_on() -> None:
    resources = {
        "Mapping": {"Type": "X", "Properties": {"Fn": {"Ref": "Fn"}, "Stream": {"Fn::GetAtt": ["Table", "Arn"]}}},
        "Fn": {"Type": "X", "Properties": {"Role": {"Fn::Sub": "${Role.Arn}"}}},
        "Role": {"Type": "X"},
        "Table": {"Type": "X", "DependsOn": "Role"},
    }
    order = creation_order(resources)
    assert order.index("Role") < order.index("Fn") < order.index("Mapping")
    assert order.index("Role") < order.index("Table") < order.index("Mapping")


def test_cycles_and_unknown_depends_on_are_refused() -> None:
    with pytest.raises(TemplateError, match=r"Circular dependency between resources: \[A, B\]"):
        creation_order({"A": {"Type": "X", "DependsOn": "B"}, "B": {"Type": "X", "Properties": {"P": {"Ref": "A"}}}})
    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[C\]"):
        creation_order({"A": {"Type": "X", "DependsOn": "C"}})


def _ssm(name: str) -> str:
    return {"/cdk/version": "21"}[name]


def test_parameters_defaults_lists_ssm_and_previous_values() -> None:
    declared = {
        "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Sizes": {"Type": "CommaDelimitedList", "Default": "a,b"},
        "Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk/version"},
        "Count": {"Type": "Number", "MinValue": 1},
    }
    texts, values = parameters.resolve(declared, {"Count": None}, {"Count": "3"}, _ssm)
    assert texts == {"Stage": "dev", "Sizes": "a,b", "Version": "/cdk/version", "Count": "3"}
    assert values == {"Stage": "dev", "Sizes": ["a", "b"], "Version": "21", "Count": "3"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "Parameters: [Count] must have values"),
        ({"Count": "2", "Extra": "x"}, "Parameters: [Extra] do not exist in the template"),
        ({"Count": "2", "Stage": "qa"}, "Parameter 'Stage' must be one of AllowedValues"),
        ({"Count": "0"}, "Parameter 'Count' must be a number not less than 1"),
        ({"Count": "many"}, "Parameter 'Count' must be a number"),
    ],
)
def test_parameter_errors_use_cloudformations_wording(given: dict[str, str | None], message: str) -> None:
    declared = {
        "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Count": {"Type": "Number", "MinValue": 1},
    }
    with pytest.raises(ValidationError) as error:
        parameters.resolve(declared, given, {}, _ssm)
    assert str(error.value) == message


def test_linting_a_sam_template_leaves_the_process_region_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """cfn-lint sets AWS_DEFAULT_REGION process-wide when it transforms SAM; the endpoint's process keeps its own."""
    from streamlab.emulator.cloudformation import lint

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    body = (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.12, Handler: index.handler, InlineCode: 'def handler(e, c): pass'}\n"
    )
    assert lint.findings(body, "ap-south-1") == []
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-central-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    lint.findings(body, "ap-south-1")
    assert "AWS_DEFAULT_REGION" not in os.environ
