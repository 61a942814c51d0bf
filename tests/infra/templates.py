"""Reading synthesized CloudFormation templates the way the tests state them: by names people use (table
names, function names), not by logical ids CDK makes up."""

from __future__ import annotations

from typing import Any


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource (Type, Properties, ...) of every resource of a type."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def properties(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [resource.get("Properties", {}) for resource in resources(template, resource_type).values()]


def the_one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (found,) = properties(template, resource_type)
    return found


def table(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in properties(template, "AWS::DynamoDB::Table") if p["TableName"] == name]
    return found


def table_resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in resources(template, "AWS::DynamoDB::Table").values()
        if r["Properties"]["TableName"] == name
    ]
    return found


def function(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in properties(template, "AWS::Lambda::Function") if p["FunctionName"] == name]
    return found


def readable(template: dict[str, Any], value: Any) -> Any:
    """A value with references to named resources replaced by their names: ``{"Ref": <catalog table>}`` →
    ``"meterbill-dev-catalog"``, ``{"Fn::GetAtt": [<table>, "Arn"]}`` → ``"arn:meterbill-dev-catalog"``;
    a log group is named after the function that logs to it; a queue's ``Ref`` (its URL) and ``QueueName`` are
    its name; pseudo parameters are the tests' values."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and argument in template["Resources"]:
            return _name_of(template, argument)
        if key == "Ref" and argument in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[argument]
        if key == "Fn::GetAtt" and argument[1] == "Arn":
            return f"arn:{_name_of(template, argument[0])}"
        if key == "Fn::GetAtt" and argument[1] == "QueueName":
            return _name_of(template, argument[0])
        if key == "Fn::Join" and argument[0] == "":
            return "".join(str(readable(template, part)) for part in argument[1])
    if isinstance(value, dict):
        return {k: readable(template, v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(template, item) for item in value]
    return value


# The tests synthesize for this account and region (tests/infra/conftest.py).
ACCOUNT = "111111111111"
REGION = "eu-central-1"
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
_NAME_PROPERTIES = ("TableName", "FunctionName", "TopicName", "RestApiName", "QueueName", "Name")


def _name_of(template: dict[str, Any], logical_id: str) -> str:
    resource = template["Resources"][logical_id]
    props = resource.get("Properties", {})
    for key in _NAME_PROPERTIES:
        if isinstance(props.get(key), str):
            return str(props[key])
    if resource["Type"] == "AWS::Logs::LogGroup":
        for fn in properties(template, "AWS::Lambda::Function"):
            if fn.get("LoggingConfig", {}).get("LogGroup") == {"Ref": logical_id}:
                return f"log group of {fn['FunctionName']}"
    return logical_id


def role_of(template: dict[str, Any], function_name: str) -> tuple[str, dict[str, Any]]:
    role_ref = function(template, function_name)["Role"]["Fn::GetAtt"][0]
    return role_ref, template["Resources"][role_ref]["Properties"]


def statements_of_role(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to a role, readable, in template order."""
    found = []
    for policy in properties(template, "AWS::IAM::Policy"):
        if {"Ref": role_logical_id} in policy.get("Roles", []):
            found.extend(readable(template, policy["PolicyDocument"]["Statement"]))
    return found
