"""CloudFormation's intrinsic functions, pseudo parameters, parameters and conditions, evaluated locally.

Resource values come from a callback: the engine knows which resources it
deployed (and what they answered) and which it does not deploy at all.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DeployError, Unresolvable


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")
_UNSUPPORTED = ("Fn::GetAZs", "Fn::Cidr", "Fn::Transform", "Fn::ForEach")
_CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")

# (logical id, attribute or None for Ref) -> value; raises Unresolvable.
ResourceLookup = Callable[[str, "str | None"], Any]


@dataclass(frozen=True)
class Pseudo:
    """The pseudo parameters of one stack."""

    region: str
    account_id: str
    stack_name: str
    stack_id: str

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def url_suffix(self) -> str:
        return "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"

    def values(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NoValue": NO_VALUE,
        }


LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
_LANGUAGE_EXTENSION_FUNCTIONS = ("Fn::Length", "Fn::ToJsonString")


def _transforms(template: Mapping[str, Any]) -> list[Any]:
    transform = template.get("Transform")
    return transform if isinstance(transform, list) else [transform] if transform else []


class Resolver:
    """Evaluates template values of one stack."""

    def __init__(
        self,
        template: Mapping[str, Any],
        pseudo: Pseudo,
        parameters: Mapping[str, Any],
        resources: ResourceLookup,
        exports: Mapping[str, Any],
    ) -> None:
        self.template = template
        self.pseudo = pseudo
        self.parameters = parameters
        self.resources = resources
        self.exports = exports
        self.imports: set[str] = set()  # export names this resolver read
        self._pseudo_values = pseudo.values()
        self._conditions: dict[str, bool] = {}
        # Fn::Length and Fn::ToJsonString exist only where the template declares the LanguageExtensions transform.
        self._language_extensions = LANGUAGE_EXTENSIONS in _transforms(template)

    # --- public -------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic evaluated; AWS::NoValue entries removed."""
        return self._resolve(value)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise Unresolvable(f"Condition {name} is not defined in the template")
            self._conditions[name] = False  # a cycle reads as false instead of recursing forever
            result = self._resolve(definitions[name], in_condition=True)
            if not isinstance(result, bool):
                raise Unresolvable(f"Condition {name} does not evaluate to true or false")
            self._conditions[name] = result
        return self._conditions[name]

    # --- evaluation ---------------------------------------------------------

    def _resolve(self, value: Any, in_condition: bool = False) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item, in_condition) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key.startswith("Fn::") or (key == "Condition" and in_condition):
                return self._function(key, argument, in_condition)
        resolved = {key: self._resolve(item, in_condition) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: Any) -> Any:
        name = self._resolve(name)
        if not isinstance(name, str):
            raise Unresolvable(f"Ref needs a name, got {name!r}")
        if name in self._pseudo_values:
            return self._pseudo_values[name]
        if name.startswith("AWS::"):
            raise Unresolvable(f"Ref {name}: this pseudo parameter has no local value")
        if name in self.parameters:
            value = self.parameters[name]
            if isinstance(value, Unresolvable):
                raise value
            return value
        if name in (self.template.get("Resources") or {}):
            return self.resources(name, None)
        raise Unresolvable(f"Ref {name}: no parameter or resource of that name in the template")

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical_id, attribute = argument[0], self._resolve(argument[1])
        else:
            raise Unresolvable(f"Fn::GetAtt needs [logical id, attribute], got {argument!r}")
        if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
            raise Unresolvable(f"Fn::GetAtt needs [logical id, attribute], got {argument!r}")
        if logical_id not in (self.template.get("Resources") or {}):
            raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute}: no resource {logical_id} in the template")
        return self.resources(logical_id, attribute)

    def _function(self, name: str, argument: Any, in_condition: bool) -> Any:
        if name == "Fn::GetAtt":
            return self._get_att(argument)
        if name == "Fn::Join":
            delimiter, items = _pair(name, argument)
            items = self._resolve(items)
            if not isinstance(delimiter, str) or not isinstance(items, list):
                raise Unresolvable("Fn::Join needs [delimiter, [values]]")
            return delimiter.join(_text(name, item) for item in items)
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Select":
            index, items = _pair(name, argument)
            index, items = self._resolve(index), self._resolve(items)
            try:
                position = int(index)
            except (TypeError, ValueError):
                raise Unresolvable(f"Fn::Select index must be a number, got {index!r}") from None
            if not isinstance(items, list):
                raise Unresolvable("Fn::Select needs a list")
            if not 0 <= position < len(items):
                raise Unresolvable(f"Fn::Select index {position} is out of bounds of a list of {len(items)}")
            return items[position]
        if name == "Fn::Split":
            delimiter, source = _pair(name, argument)
            source = self._resolve(source)
            if not isinstance(delimiter, str) or not delimiter or not isinstance(source, str):
                raise Unresolvable("Fn::Split needs [delimiter, string]")
            return source.split(delimiter)
        if name == "Fn::ImportValue":
            export = self._resolve(argument)
            if not isinstance(export, str):
                raise Unresolvable(f"Fn::ImportValue needs an export name, got {export!r}")
            if export not in self.exports:
                raise Unresolvable(f"No export named {export} found (among the locally deployed stacks)")
            value = self.exports[export]
            if isinstance(value, Unresolvable):
                raise Unresolvable(f"Export {export} has no local value: {value}")
            self.imports.add(export)
            return value
        if name == "Fn::FindInMap":
            if not isinstance(argument, list) or len(argument) < 3:
                raise Unresolvable("Fn::FindInMap needs [map, top-level key, second-level key]")
            map_name, top, second = (self._resolve(part) for part in argument[:3])
            try:
                return (self.template.get("Mappings") or {})[map_name][top][second]
            except (KeyError, TypeError):
                if len(argument) > 3 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
                    return self._resolve(argument[3]["DefaultValue"])
                raise Unresolvable(f"Fn::FindInMap: mapping {map_name}/{top}/{second} does not exist") from None
        if name == "Fn::Base64":
            return base64.b64encode(_text(name, self._resolve(argument)).encode()).decode()
        if name == "Fn::If":
            if not isinstance(argument, list) or len(argument) != 3 or not isinstance(argument[0], str):
                raise Unresolvable("Fn::If needs [condition, value if true, value if false]")
            chosen = argument[1] if self.condition(argument[0]) else argument[2]
            return self._resolve(chosen, in_condition)
        if name in _LANGUAGE_EXTENSION_FUNCTIONS and not self._language_extensions:
            raise Unresolvable(f"{name} needs the {LANGUAGE_EXTENSIONS} transform, which the template does not declare")
        if name == "Fn::Length":
            items = self._resolve(argument)
            if not isinstance(items, list):
                raise Unresolvable("Fn::Length needs a list")
            return len(items)
        if name == "Fn::ToJsonString":
            return json.dumps(self._resolve(argument), separators=(",", ":"))
        if name in _CONDITION_FUNCTIONS:
            return self._condition_function(name, argument)
        if name in _UNSUPPORTED:
            raise Unresolvable(f"{name} is not evaluated by the local deploy")
        raise Unresolvable(f"Unknown intrinsic function {name}")

    def _condition_function(self, name: str, argument: Any) -> bool:
        if name == "Condition":
            if not isinstance(argument, str):
                raise Unresolvable("Condition needs a condition name")
            return self.condition(argument)
        if name == "Fn::Equals":
            left, right = _pair(name, argument)
            return _comparable(self._resolve(left, True)) == _comparable(self._resolve(right, True))
        if not isinstance(argument, list):
            raise Unresolvable(f"{name} needs a list of conditions")
        values = [self._resolve(item, True) for item in argument]
        if any(not isinstance(v, bool) for v in values):
            raise Unresolvable(f"{name} needs conditions, got {values!r}")
        if name == "Fn::Not":
            if len(values) != 1:
                raise Unresolvable("Fn::Not needs exactly one condition")
            return not values[0]
        return all(values) if name == "Fn::And" else any(values)

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text = argument[0]
            variables = self._resolve(argument[1])
            if not isinstance(variables, dict):
                raise Unresolvable("Fn::Sub variables must be a map")
        else:
            raise Unresolvable("Fn::Sub needs a string or [string, {variables}]")

        def substitute(match: re.Match[str]) -> str:
            literal, name = match.group(1), match.group(2).strip()
            if literal:
                return "${" + match.group(2) + "}"
            if name in variables:
                return _text("Fn::Sub", variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return _text("Fn::Sub", self._get_att([logical_id, attribute]))
            return _text("Fn::Sub", self._ref(name))

        return _SUB_VARIABLE.sub(substitute, text)


def _pair(name: str, argument: Any) -> tuple[Any, Any]:
    if not isinstance(argument, list) or len(argument) != 2:
        raise Unresolvable(f"{name} needs a list of two values")
    return argument[0], argument[1]


def _text(function: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise Unresolvable(f"{function} needs strings, got {value!r}")


def _comparable(value: Any) -> Any:
    return cfn_stringify(value)


def cfn_stringify(value: Any) -> Any:
    """What CloudFormation hands a custom resource: every scalar a string, lists and maps kept."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {key: cfn_stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cfn_stringify(item) for item in value]
    if value is None:
        raise Unresolvable("null values are not allowed in templates")
    return value


# --- static analysis ----------------------------------------------------------


def references(value: Any) -> set[str]:
    """Names a value refers to with Ref, Fn::GetAtt and Fn::Sub (parameters, resources and pseudo parameters)."""
    found: set[str] = set()
    for key, argument in _intrinsics(value):
        if key == "Ref" and isinstance(argument, str):
            found.add(argument)
        elif key == "Fn::GetAtt":
            if isinstance(argument, str):
                found.add(argument.split(".", 1)[0])
            elif isinstance(argument, list) and argument and isinstance(argument[0], str):
                found.add(argument[0])
        elif key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            if not isinstance(text, str):
                continue
            for match in _SUB_VARIABLE.finditer(text):
                name = match.group(2).strip()
                if match.group(1) or (isinstance(variables, dict) and name in variables):
                    continue
                found.add(name.split(".", 1)[0] if "." in name and not name.startswith("AWS::") else name)
    return found


def import_arguments(value: Any) -> list[Any]:
    """The arguments of every Fn::ImportValue in a value."""
    return [argument for key, argument in _intrinsics(value) if key == "Fn::ImportValue"]


def _intrinsics(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _intrinsics(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                yield key, argument
        for item in value.values():
            yield from _intrinsics(item)


def resource_dependencies(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each resource's direct dependencies: DependsOn, and resources its properties and attributes refer to."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        direct = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        referred = references({k: v for k, v in resource.items() if k not in ("DependsOn", "Metadata")})
        graph[logical_id] = {name for name in direct | referred if name in resources and name != logical_id}
    return graph


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str], stack_name: str) -> dict[str, Any]:
    """Parameter values as CloudFormation would take them: given or default, typed, and checked."""
    values: dict[str, Any] = {}
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise DeployError(f"{stack_name}: parameters {', '.join(unknown)} do not exist in the template")
    missing = []
    for name, definition in declared.items():
        kind = str(definition.get("Type", "String"))
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in definition:
            raw = definition["Default"]
        else:
            missing.append(name)
            continue
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            values[name] = Unresolvable(
                f"Ref {name}: the parameter is read from the SSM parameter {raw}, which the local deploy cannot read"
            )
            continue
        text = cfn_stringify(raw) if not isinstance(raw, list) else ",".join(map(str, raw))
        _check_parameter(stack_name, name, definition, kind, text)
        values[name] = text.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else text
    if missing:
        raise DeployError(f"{stack_name}: parameters [{', '.join(missing)}] must have values (pass --parameters)")
    return values


def _check_parameter(stack_name: str, name: str, definition: Mapping[str, Any], kind: str, text: str) -> None:
    where = f"{stack_name}: Parameter '{name}'"
    items = text.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else [text]
    allowed = definition.get("AllowedValues")
    pattern = definition.get("AllowedPattern")
    for item in items:
        if allowed is not None and item not in [str(cfn_stringify(a)) for a in allowed]:
            raise DeployError(f"{where} must be one of AllowedValues")
        if pattern is not None and re.fullmatch(str(pattern), item) is None:
            raise DeployError(f"{where} must match pattern {pattern}")
        if "MinLength" in definition and len(item) < int(definition["MinLength"]):
            raise DeployError(f"{where} must contain at least {definition['MinLength']} characters")
        if "MaxLength" in definition and len(item) > int(definition["MaxLength"]):
            raise DeployError(f"{where} must contain at most {definition['MaxLength']} characters")
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise DeployError(f"{where} must be a number") from None
            if "MinValue" in definition and number < float(definition["MinValue"]):
                raise DeployError(f"{where} must be a number not less than {definition['MinValue']}")
            if "MaxValue" in definition and number > float(definition["MaxValue"]):
                raise DeployError(f"{where} must be a number not greater than {definition['MaxValue']}")
