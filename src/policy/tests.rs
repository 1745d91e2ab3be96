//! Table tests of the policy language: every condition, field form, count form, function and
//! effect against resource bodies; parse errors with their codes and paths; every built-in
//! definition of fixtures/policy/built-in-policies on a compliant and a non-compliant body; the rules
//! of the Lighthouse policy samples (fixtures/policy/samples).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::eval::{test, EvalContext};
use super::rule::Op;
use super::*;

const SUB: &str = "20000000-0000-0000-0000-000000002001";

fn ctx() -> EvalContext {
    let mut c = EvalContext::new(OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap());
    c.subscription = Some(
        json!({"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB,
        "tenantId": "10000000-0000-0000-0000-000000000002", "displayName": "fabrikam-prod"}),
    );
    c.resource_group = Some(
        json!({"id": format!("/subscriptions/{SUB}/resourceGroups/rg1"), "name": "rg1",
        "type": "Microsoft.Resources/resourceGroups", "location": "westeurope", "tags": {"env": "prod"}}),
    );
    c.request = json!({"apiVersion": "2023-01-01", "method": "PUT"});
    c.policy = json!({"assignmentId": "/subscriptions/x/providers/Microsoft.Authorization/policyAssignments/a1"});
    c
}

fn res(rtype: &str, name: &str, props: Value) -> Value {
    json!({"id": format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/{rtype}/{name}"),
        "name": name, "type": rtype, "location": "westeurope", "tags": {}, "properties": props})
}

fn storage(props: Value) -> Value {
    let mut r = res("Microsoft.Storage/storageAccounts", "fabrikamdata", props);
    r["kind"] = json!("StorageV2");
    r["sku"] = json!({"name": "Standard_LRS"});
    r["tags"] = json!({"Env": "Prod", "cost.center": "42"});
    r
}

fn def(rule: Value, params: Value) -> Definition {
    Definition::parse(
        "test",
        &json!({"mode": "All", "parameters": params, "policyRule": rule}),
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

/// Does `if` hold on `body` (parameters' defaults, or these values)?
fn holds(cond: Value, body: &Value) -> bool {
    let d = def(json!({"if": cond, "then": {"effect": "audit"}}), json!({}));
    evaluate(&d, &Map::new(), body, &ctx()).unwrap().matched
}

#[test]
fn every_condition() {
    let rows: &[(Op, Value, Value, bool)] = &[
        (Op::Equals, json!("Prod"), json!("prod"), true),
        (Op::Equals, json!(false), json!("false"), true),
        (Op::Equals, json!(365), json!("365"), true),
        (Op::Equals, json!(null), json!(""), false),
        (Op::Equals, json!(["a", "B"]), json!(["A", "b"]), true),
        (Op::NotEquals, json!(null), json!("x"), true),
        (Op::NotEquals, json!("a"), json!("A"), false),
        (
            Op::Like,
            json!("ASR-Protect-vm1"),
            json!("asr-protect-*"),
            true,
        ),
        (Op::Like, json!("abc"), json!("a*c*"), true),
        (Op::Like, json!("abc"), json!("b*"), false),
        (Op::Like, json!(null), json!("*"), false),
        (Op::NotLike, json!(null), json!("*"), true),
        (Op::Match, json!("vm-01"), json!("??-##"), true),
        (Op::Match, json!("VM-01"), json!("vm.##"), false),
        (Op::Match, json!("vm-1"), json!("??-##"), false),
        (Op::MatchInsensitively, json!("VM-01"), json!("vm.##"), true),
        (Op::NotMatch, json!("abc1"), json!("???#"), false),
        (
            Op::NotMatchInsensitively,
            json!("ABC1"),
            json!("abc#"),
            false,
        ),
        (
            Op::Contains,
            json!("Microsoft.Storage"),
            json!("storage"),
            true,
        ),
        (Op::Contains, json!(["a", "b"]), json!("B"), true),
        (Op::NotContains, json!("abc"), json!("x"), true),
        (
            Op::In,
            json!("WestEurope"),
            json!(["westeurope", "eastus"]),
            true,
        ),
        (Op::In, json!(null), json!(["x"]), false),
        (Op::NotIn, json!("northeurope"), json!(["westeurope"]), true),
        (Op::ContainsKey, json!({"Env": "x"}), json!("env"), true),
        (
            Op::NotContainsKey,
            json!({"Env": "x"}),
            json!("owner"),
            true,
        ),
        (Op::ContainsKey, json!("not an object"), json!("x"), false),
        (Op::Less, json!("2019-04-01"), json!("2019-09-01"), true),
        (Op::Less, json!(3), json!("10"), true),
        (Op::LessOrEquals, json!(10), json!(10), true),
        (Op::Greater, json!("b"), json!("A"), true),
        (Op::GreaterOrEquals, json!("365"), json!("365"), true),
        (Op::Greater, json!(null), json!(1), false),
        (Op::Exists, json!(null), json!("false"), true),
        (Op::Exists, json!(false), json!(true), true),
        (Op::Exists, json!(""), json!(false), false),
    ];
    for (op, v, rhs, want) in rows {
        assert_eq!(test(*op, v, rhs).unwrap(), *want, "{op:?} {v} {rhs}");
    }
    assert!(test(Op::In, &json!("a"), &json!("a")).is_err());
    assert!(test(Op::Less, &json!([1]), &json!(1)).is_err());
}

#[test]
fn field_forms() {
    let mut body = storage(json!({"supportsHttpsTrafficOnly": true,
        "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}]}}));
    body["identity"] = json!({"type": "SystemAssigned"});
    let rows: &[(Value, bool)] = &[
        (
            json!({"field": "type", "equals": "microsoft.storage/storageaccounts"}),
            true,
        ),
        (json!({"field": "name", "equals": "FabrikamData"}), true),
        (json!({"field": "fullName", "equals": "fabrikamdata"}), true),
        (json!({"field": "kind", "equals": "StorageV2"}), true),
        (json!({"field": "location", "equals": "westeurope"}), true),
        (
            json!({"field": "id", "contains": "/resourceGroups/rg1/"}),
            true,
        ),
        (
            json!({"field": "identity.type", "equals": "SystemAssigned"}),
            true,
        ),
        (json!({"field": "tags", "containsKey": "env"}), true),
        (json!({"field": "tags['env']", "equals": "prod"}), true),
        (json!({"field": "tags[env]", "equals": "prod"}), true),
        (json!({"field": "tags.Env", "equals": "prod"}), true),
        (
            json!({"field": "tags['cost.center']", "equals": "42"}),
            true,
        ),
        (json!({"field": "tags['owner']", "exists": false}), true),
        (
            json!({"field": "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly", "equals": "true"}),
            true,
        ),
        (
            json!({"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "equals": "deny"}),
            true,
        ),
        (
            json!({"field": "Microsoft.Storage/storageAccounts/sku.name", "equals": "Standard_LRS"}),
            true,
        ),
        // convention: an alias with no table row
        (
            json!({"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value", "like": "10.0.0.*"}),
            true,
        ),
        (
            json!({"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value", "equals": "10.0.0.1"}),
            false,
        ),
        (
            json!({"field": "Microsoft.Storage/storageAccounts/notAProperty", "exists": false}),
            true,
        ),
        // an alias of another type does not exist on this resource
        (
            json!({"field": "Microsoft.KeyVault/vaults/enableSoftDelete", "exists": false}),
            true,
        ),
        (
            json!({"field": "[concat('tags[', 'Env', ']')]", "equals": "Prod"}),
            true,
        ),
        (
            json!({"value": "[field('Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value')]", "equals": ["10.0.0.1", "10.0.0.2"]}),
            true,
        ),
    ];
    for (c, want) in rows {
        assert_eq!(holds(c.clone(), &body), *want, "{c}");
    }
    // `[*]` on an empty array holds for every member: none
    let empty = storage(json!({"networkAcls": {"ipRules": []}}));
    assert!(holds(
        json!({"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value", "equals": "x"}),
        &empty
    ));
    // resource groups are typed as policy sees them
    let rg = json!({"id": "/subscriptions/s/resourceGroups/rg", "name": "rg", "type": "Microsoft.Resources/resourceGroups", "location": "westeurope"});
    assert!(holds(
        json!({"field": "type", "equals": "Microsoft.Resources/subscriptions/resourceGroups"}),
        &rg
    ));
}

#[test]
fn logical_operators_and_values() {
    let body = storage(json!({}));
    let rows: &[(Value, bool)] = &[
        (
            json!({"allOf": [{"value": "a", "equals": "a"}, {"value": "b", "equals": "b"}]}),
            true,
        ),
        (
            json!({"allof": [{"value": "a", "equals": "a"}, {"value": "b", "equals": "c"}]}),
            false,
        ),
        (
            json!({"anyOf": [{"value": "a", "equals": "x"}, {"value": "b", "equals": "b"}]}),
            true,
        ),
        (json!({"not": {"value": "a", "equals": "a"}}), false),
        (
            json!({"value": "[resourceGroup().location]", "equals": "westeurope"}),
            true,
        ),
        (
            json!({"value": "[resourceGroup().tags['env']]", "equals": "prod"}),
            true,
        ),
        (
            json!({"value": "[subscription().displayName]", "equals": "fabrikam-prod"}),
            true,
        ),
        (
            json!({"value": "[requestContext().apiVersion]", "greaterOrEquals": "2019-04-01"}),
            true,
        ),
        (
            json!({"value": "[requestContext().method]", "equals": "PUT"}),
            true,
        ),
        (
            json!({"value": "[policy().assignmentId]", "like": "*/a1"}),
            true,
        ),
        (
            json!({"value": "[concat(field('name'), '-', field('location'))]", "equals": "fabrikamdata-westeurope"}),
            true,
        ),
        (
            json!({"value": "[ipRangeContains('10.0.0.0/24', '10.0.0.7')]", "equals": true}),
            true,
        ),
        (
            json!({"value": "[ipRangeContains('10.0.0.0/24', '10.0.1.0/28')]", "equals": false}),
            true,
        ),
        (
            json!({"value": "[ipRangeContains('2001:db8::/32', '2001:db8::1')]", "equals": true}),
            true,
        ),
        (
            json!({"value": "[addDays('2026-12-06T00:00:00Z', 3)]", "equals": "2026-12-09T00:00:00Z"}),
            true,
        ),
        (json!({"value": "[utcNow('yyyy')]", "equals": "2027"}), true),
        (
            json!({"value": "[length(field('tags'))]", "equals": 2}),
            true,
        ),
    ];
    for (c, want) in rows {
        assert_eq!(holds(c.clone(), &body), *want, "{c}");
    }
}

#[test]
fn count_forms() {
    let nsg = res(
        "Microsoft.Network/networkSecurityGroups",
        "nsg",
        json!({"securityRules": [
        {"name": "ssh", "properties": {"access": "Allow", "direction": "Inbound", "destinationPortRange": "22"}},
        {"name": "rdp", "properties": {"access": "Allow", "direction": "Inbound", "destinationPortRange": "3389"}},
        {"name": "out", "properties": {"access": "Deny", "direction": "Outbound", "destinationPortRange": "*"}}]}),
    );
    let a = "Microsoft.Network/networkSecurityGroups/securityRules[*]";
    let rows: &[(Value, bool)] = &[
        (json!({"count": {"field": a}, "equals": 3}), true),
        (
            json!({"count": {"field": a, "where": {"field": format!("{a}.access"), "equals": "allow"}}, "equals": 2}),
            true,
        ),
        (
            json!({"count": {"field": a, "where": {"allOf": [
            {"field": format!("{a}.direction"), "equals": "Inbound"},
            {"field": format!("{a}.destinationPortRange"), "in": ["22", "3389"]}]}}, "greater": 1}),
            true,
        ),
        (
            json!({"count": {"field": a, "where": {"value": format!("[current('{a}.destinationPortRange')]"), "equals": "*"}}, "equals": 1}),
            true,
        ),
        (
            json!({"count": {"field": a, "where": {"value": format!("[current('{a}').name]"), "equals": "rdp"}}, "equals": 1}),
            true,
        ),
        (
            json!({"count": {"value": ["22", "3389", "443"]}, "equals": 3}),
            true,
        ),
        (
            json!({"count": {"value": ["22", "3389"], "name": "port", "where": {"value": "[current('port')]", "like": "3*"}}, "equals": 1}),
            true,
        ),
        (
            json!({"count": {"value": [1, 2, 3], "where": {"value": "[current()]", "greater": 1}}, "equals": 2}),
            true,
        ),
        // nested: for each rule, how many listed ports it opens
        (
            json!({"count": {"field": a, "where": {"count": {"value": ["22", "3389"], "name": "p",
            "where": {"value": "[current('p')]", "equals": format!("[current('{a}.destinationPortRange')]")}}, "greater": 0}}, "equals": 2}),
            true,
        ),
        (
            json!({"count": {"field": "Microsoft.Network/networkSecurityGroups/flowLogs[*]"}, "equals": 0}),
            true,
        ),
        // another type's array counts nothing
        (
            json!({"count": {"field": "Microsoft.Insights/diagnosticSettings/logs[*]"}, "equals": 0}),
            true,
        ),
    ];
    for (c, want) in rows {
        assert_eq!(holds(c.clone(), &nsg), *want, "{c}");
    }
}

#[test]
fn functions_not_in_policy_fail_with_invalid_policy_parameters() {
    let d = def(
        json!({"if": {"value": "[resourceId('Microsoft.Storage/storageAccounts', 'x')]", "equals": "x"},
        "then": {"effect": "audit"}}),
        json!({}),
    );
    let e = evaluate(&d, &Map::new(), &storage(json!({})), &ctx()).unwrap_err();
    assert_eq!(e.code, "InvalidPolicyParameters");
    assert!(
        e.message
            .contains("'resourceId' is not available in policy rules"),
        "{}",
        e.message
    );
}

#[test]
fn parse_errors_have_azure_codes_and_paths() {
    let rows: &[(Value, &str, &str)] = &[
        (
            json!({"if": {"value": "a", "equals": "a"}, "then": {"effect": "auditIfNotExists", "details": {}}}),
            "InvalidPolicyRuleEffectDetails",
            "policyRule.then.details.type",
        ),
        (
            json!({"if": {"value": "a", "equals": "a"}, "then": {"effect": "modify", "details": {"roleDefinitionIds": []}}}),
            "InvalidPolicyRuleEffectDetails",
            "policyRule.then.details.operations",
        ),
        (
            json!({"if": {"value": "a", "equals": "a"}, "then": {"effect": "denyAction"}}),
            "InvalidPolicyRuleEffectDetails",
            "policyRule.then.details.actionNames",
        ),
        (
            json!({"if": {"fields": "type", "equals": "x"}, "then": {"effect": "deny"}}),
            "InvalidPolicyRule",
            "policyRule.if.fields",
        ),
        (
            json!({"if": {"allOf": [{"field": "type"}]}, "then": {"effect": "deny"}}),
            "InvalidPolicyRule",
            "policyRule.if.allOf[0]",
        ),
        (
            json!({"if": {"field": "type", "equals": "x"}, "then": {"effect": "explode"}}),
            "InvalidPolicyRule",
            "policyRule.then.effect",
        ),
        (
            json!({"if": {"field": "type", "equals": "x"}}),
            "InvalidPolicyRule",
            "policyRule",
        ),
        (
            json!({"if": {"field": "type", "in": "x"}, "then": {"effect": "deny"}}),
            "InvalidPolicyRule",
            "policyRule.if.in",
        ),
        (
            json!({"if": {"field": "nonsense", "equals": "x"}, "then": {"effect": "deny"}}),
            "InvalidPolicyAlias",
            "policyRule.if.field",
        ),
        (
            json!({"if": {"count": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules"}, "equals": 0}, "then": {"effect": "deny"}}),
            "InvalidPolicyRule",
            "policyRule.if.count.field",
        ),
        (
            json!({"if": {"value": "[parameters('nope')]", "equals": "x"}, "then": {"effect": "deny"}}),
            "InvalidPolicyParameters",
            "",
        ),
    ];
    for (rule, code, path) in rows {
        let e = Definition::parse("d1", &json!({"mode": "All", "policyRule": rule})).unwrap_err();
        assert_eq!(
            (e.code, e.path.as_str()),
            (*code, *path),
            "{rule} → {}",
            e.message
        );
    }
    let e = Definition::parse("d1", &json!({"mode": "Sometimes", "policyRule": {}})).unwrap_err();
    assert_eq!(e.code, "InvalidPolicyMode");
    let e = Definition::parse("d1", &json!({"parameters": {"effect": {"type": "String", "defaultValue": "Deny",
        "allowedValues": ["Audit"]}}, "policyRule": {"if": {"value": "a", "equals": "a"}, "then": {"effect": "[parameters('effect')]"}}})).unwrap_err();
    assert_eq!(e.code, "PolicyParameterAllowedAndDefaultValuesMismatch");
    // a deployIfNotExists template keeps its own parameters
    Definition::parse("d1", &json!({"policyRule": {"if": {"value": "a", "equals": "a"}, "then": {"effect": "deployIfNotExists",
        "details": {"type": "Microsoft.Foo/bars", "roleDefinitionIds": [], "deployment": {"properties": {"template": {"resources": [{"name": "[parameters('inner')]"}]}, "parameters": {}}}}}}})).unwrap();
}

#[test]
fn nesting_is_bounded() {
    let mut c = json!({"value": "a", "equals": "a"});
    for _ in 0..40 {
        c = json!({"not": c});
    }
    let e = Definition::parse(
        "d",
        &json!({"policyRule": {"if": c, "then": {"effect": "deny"}}}),
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidPolicyRule");
    let deep = format!("[{}'a'{}]", "concat(".repeat(5000), ")".repeat(5000));
    let d = def(
        json!({"if": {"value": deep, "equals": "a"}, "then": {"effect": "deny"}}),
        json!({}),
    );
    assert!(evaluate(&d, &Map::new(), &storage(json!({})), &ctx()).is_err());
}

#[test]
fn parameters_resolve_as_azure_checks_them() {
    let d = def(
        json!({"if": {"field": "location", "notIn": "[parameters('allowed')]"}, "then": {"effect": "[parameters('effect')]"}}),
        json!({"allowed": {"type": "Array"}, "effect": {"type": "String", "defaultValue": "Deny", "allowedValues": ["Audit", "Deny", "Disabled"]}}),
    );
    let p = d
        .resolve_parameters("a1", Some(&json!({"allowed": {"value": ["eastus"]}})))
        .unwrap();
    assert_eq!(d.effect(&p).unwrap(), Effect::Deny);
    assert_eq!(
        d.resolve_parameters("a1", None).unwrap_err().code,
        "MissingPolicyParameter"
    );
    assert_eq!(
        d.resolve_parameters(
            "a1",
            Some(&json!({"allowed": {"value": []}, "x": {"value": 1}}))
        )
        .unwrap_err()
        .code,
        "UndefinedPolicyParameter"
    );
    let e = d
        .resolve_parameters(
            "a1",
            Some(&json!({"allowed": {"value": []}, "effect": {"value": "deny"}})),
        )
        .unwrap_err();
    assert_eq!(e.code, "PolicyParameterValueNotAllowed");
    assert_eq!(e.message, "The value 'deny' is not allowed for policy parameter 'effect' in policy definition 'test'. The allowed values are 'Audit, Deny, Disabled'.");
    let off = d
        .resolve_parameters(
            "a1",
            Some(&json!({"allowed": {"value": []}, "effect": {"value": "Disabled"}})),
        )
        .unwrap();
    let o = evaluate(&d, &off, &storage(json!({})), &ctx()).unwrap();
    assert_eq!((o.effect, o.matched), (Effect::Disabled, false));
}

#[test]
fn modes() {
    assert!(Mode::Indexed.applies("Microsoft.Storage/storageAccounts"));
    assert!(!Mode::Indexed.applies("Microsoft.Resources/subscriptions/resourceGroups"));
    assert!(!Mode::Indexed.applies("Microsoft.Network/virtualNetworks/subnets"));
    assert!(Mode::All.applies("Microsoft.Network/virtualNetworks/subnets"));
    assert!(!Mode::All.applies("Microsoft.KeyVault.Data/vaults/secrets"));
    let kv = Mode::parse(Some(&json!("microsoft.keyvault.data"))).unwrap();
    assert!(kv.applies("Microsoft.KeyVault.Data/vaults/secrets"));
    assert!(!kv.applies("Microsoft.KeyVault/vaults"));
    assert_eq!(Mode::parse(None).unwrap(), Mode::Indexed);
}

#[test]
fn append_and_modify() {
    let body = storage(
        json!({"publicNetworkAccess": "Enabled", "networkAcls": {"ipRules": [{"value": "1.1.1.1"}]}}),
    );
    let out = apply_append(&body, &json!([{"field": "tags['owner']", "value": "ops"},
        {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]", "value": {"value": "2.2.2.2", "action": "Allow"}}])).unwrap();
    assert_eq!(out["tags"]["owner"], "ops");
    assert_eq!(
        out["properties"]["networkAcls"]["ipRules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let c = apply_append(&body, &json!([{"field": "tags['Env']", "value": "Dev"}])).unwrap_err();
    assert_eq!(c.effect, Effect::Deny);

    let ops = json!([
        {"operation": "addOrReplace", "field": "tags['Env']", "value": "Test"},
        {"operation": "add", "field": "tags['new']", "value": "1"},
        {"operation": "remove", "field": "tags['cost.center']"},
        {"operation": "addOrReplace", "field": "Microsoft.Storage/storageAccounts/publicNetworkAccess", "value": "Disabled"},
        {"operation": "add", "field": "Microsoft.Storage/storageAccounts/minimumTlsVersion", "value": "TLS1_2"},
        {"operation": "addOrReplace", "field": "tags['skipped']", "value": "x", "condition": false}]);
    let out = apply_modify(&body, &ops, None).unwrap().body;
    assert_eq!(out["tags"], json!({"Env": "Test", "new": "1"}));
    assert_eq!(out["properties"]["publicNetworkAccess"], "Disabled");
    assert_eq!(out["properties"]["minimumTlsVersion"], "TLS1_2");
    // `add` where another value is present, and an alias that is not modifiable: the conflict effect
    let m = apply_modify(
        &body,
        &json!([{"operation": "add", "field": "tags['Env']", "value": "x"},
        {"operation": "add", "field": "tags['other']", "value": "y"}]),
        Some("audit"),
    )
    .unwrap();
    assert_eq!((m.skipped.len(), m.skipped[0].effect), (1, Effect::Audit));
    assert_eq!(m.body["tags"]["Env"], "Prod");
    assert_eq!(m.body["tags"]["other"], "y");
    // only tags can be removed; identity.type of a VM can be set
    let c = apply_modify(&body, &json!([{"operation": "remove", "field": "Microsoft.Storage/storageAccounts/publicNetworkAccess"}]), None).unwrap_err();
    assert!(
        c.message.contains("only tags can be removed"),
        "{}",
        c.message
    );
    let m = apply_modify(&vm(json!({})), &json!([{"operation": "addOrReplace", "field": "identity.type", "value": "SystemAssigned"}]), None).unwrap();
    assert_eq!(m.body["identity"]["type"], "SystemAssigned");
    assert!(apply_modify(&body, &json!([{"operation": "addOrReplace", "field": "identity.type", "value": "SystemAssigned"}]), None).is_err());
    let c = apply_modify(&body, &json!([{"operation": "addOrReplace", "field": "Microsoft.Storage/storageAccounts/encryption.keySource", "value": "x"}]), None).unwrap_err();
    assert_eq!(c.effect, Effect::Deny);
    assert!(c.message.contains("not modifiable"), "{}", c.message);
    // `[*]` members of a modifiable path
    let out = apply_modify(
        &json!({"type": "x", "tags": {}}),
        &json!([{"operation": "remove", "field": "tags"}]),
        None,
    )
    .unwrap()
    .body;
    assert!(out.get("tags").is_none());
}

#[test]
fn deny_action_and_existence() {
    let d = def(
        json!({"if": {"field": "type", "equals": "Microsoft.KeyVault/vaults"},
        "then": {"effect": "denyAction", "details": {"actionNames": ["delete"], "cascadeBehaviors": {"resourceGroup": "deny"}}}}),
        json!({}),
    );
    let kv = res("Microsoft.KeyVault/vaults", "kv", json!({}));
    let o = evaluate(&d, &Map::new(), &kv, &ctx()).unwrap();
    assert!(denies_action(&o, "DELETE"));
    let o = evaluate(&d, &Map::new(), &storage(json!({})), &ctx()).unwrap();
    assert!(!denies_action(&o, "delete"));

    // existenceCondition: `field` reads the related resource, `field()` the evaluated one
    let d = def(
        json!({"if": {"field": "type", "equals": "Microsoft.Network/virtualNetworks"},
        "then": {"effect": "auditIfNotExists", "details": {"type": "Microsoft.Network/networkWatchers", "name": "[concat('nw-', field('location'))]",
            "existenceCondition": {"field": "location", "equals": "[field('location')]"}}}}),
        json!({}),
    );
    let vnet = res("Microsoft.Network/virtualNetworks", "vnet", json!({}));
    let o = evaluate(&d, &Map::new(), &vnet, &ctx()).unwrap();
    assert_eq!(o.details["name"], "nw-westeurope");
    let mut nw = res(
        "Microsoft.Network/networkWatchers",
        "nw-westeurope",
        json!({}),
    );
    assert!(related_exists(&d, &Map::new(), &o.details, &vnet, &[nw.clone()], &ctx()).unwrap());
    nw["location"] = json!("eastus");
    assert!(!related_exists(&d, &Map::new(), &o.details, &vnet, &[nw], &ctx()).unwrap());
    let other = res("Microsoft.Network/networkWatchers", "other", json!({}));
    assert!(!related_exists(&d, &Map::new(), &o.details, &vnet, &[other], &ctx()).unwrap());
}

#[test]
fn aliases_for_providers() {
    let a = aliases::for_type("Microsoft.Storage", "storageAccounts");
    let https = a
        .iter()
        .find(|x| x["name"] == "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly")
        .unwrap();
    assert_eq!(https["defaultPath"], "properties.supportsHttpsTrafficOnly");
    assert_eq!(https["defaultMetadata"]["attributes"], "Modifiable");
    assert!(aliases::wants_aliases(Some("resourceTypes/aliases")));
    assert!(!aliases::wants_aliases(Some("metadata")));
    let r = aliases::resolve("Microsoft.Compute/virtualMachineScaleSets/sku.capacity").unwrap();
    assert_eq!(r.path, aliases::parse_path("sku.capacity"));
    let r = aliases::resolve("Microsoft.Web/sites/siteConfig.ipSecurityRestrictions[*].ipAddress")
        .unwrap();
    assert_eq!(
        r.path,
        aliases::parse_path("properties.siteConfig.ipSecurityRestrictions[*].ipAddress")
    );
}

// --- built-in definitions ---

const WS: &str = "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg1/providers/Microsoft.OperationalInsights/workspaces/ws";

/// Compliant after every effect's own test: deny/audit/append/modify when `if` does not hold, the
/// `*IfNotExists` effects when a related resource satisfies them, denyAction when a DELETE passes.
fn compliant(d: &Definition, params: &Map<String, Value>, body: &Value, related: &[Value]) -> bool {
    let o = evaluate(d, params, body, &ctx()).unwrap_or_else(|e| panic!("{}: {e:?}", d.name));
    if !o.matched {
        return true;
    }
    match o.effect {
        Effect::AuditIfNotExists | Effect::DeployIfNotExists => {
            related_exists(d, params, &o.details, body, related, &ctx()).unwrap()
        }
        Effect::DenyAction => !denies_action(&o, "delete"),
        Effect::Disabled => true,
        _ => false,
    }
}

struct Case {
    file: &'static str,
    params: Value,
    good: (Value, Vec<Value>),
    bad: (Value, Vec<Value>),
}

fn kv(props: Value) -> Value {
    res("Microsoft.KeyVault/vaults", "fabrikam-kv", props)
}
fn vm(props: Value) -> Value {
    res("Microsoft.Compute/virtualMachines", "vm1", props)
}
fn diag(name: &str, props: Value) -> Value {
    json!({"id": format!("/x/providers/Microsoft.Insights/diagnosticSettings/{name}"), "name": name,
        "type": "Microsoft.Insights/diagnosticSettings", "properties": props})
}
fn sub() -> Value {
    json!({"id": format!("/subscriptions/{SUB}"), "name": SUB, "type": "Microsoft.Resources/subscriptions"})
}
fn rg(loc: &str, tags: Value) -> Value {
    json!({"id": format!("/subscriptions/{SUB}/resourceGroups/rg1"), "name": "rg1", "type": "Microsoft.Resources/resourceGroups",
        "location": loc, "tags": tags})
}
fn tagged(mut r: Value, tags: Value) -> Value {
    r["tags"] = tags;
    r
}
fn at(mut r: Value, loc: &str) -> Value {
    r["location"] = json!(loc);
    r
}
fn none() -> Vec<Value> {
    Vec::new()
}

fn cases() -> Vec<Case> {
    let st = |p: Value| storage(p);
    let tag = json!({"tagName": "env", "tagValue": "prod"});
    vec![
        Case {
            file: "Communication/Communication_DataLocation_Audit.json",
            params: json!({"allowedDataLocations": ["Europe"]}),
            good: (
                res(
                    "Microsoft.Communication/CommunicationServices",
                    "c",
                    json!({"dataLocation": "Europe"}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.Communication/CommunicationServices",
                    "c",
                    json!({"dataLocation": "United States"}),
                ),
                none(),
            ),
        },
        Case {
            file: "Compute/RecoveryServices_DisasterRecovery_Audit.json",
            params: json!({}),
            good: (
                vm(json!({})),
                vec![json!({"type": "Microsoft.Resources/links", "name": "ASR-Protect-vm1"})],
            ),
            bad: (
                vm(json!({})),
                vec![json!({"type": "Microsoft.Resources/links", "name": "other"})],
            ),
        },
        Case {
            file: "Compute/VMRequireManagedDisk_Audit.json",
            params: json!({}),
            good: (
                vm(json!({"storageProfile": {"osDisk": {"managedDisk": {"id": "/d"}}}})),
                none(),
            ),
            bad: (
                vm(
                    json!({"storageProfile": {"osDisk": {"vhd": {"uri": "https://x.blob.core.windows.net/v/os.vhd"}}}}),
                ),
                none(),
            ),
        },
        Case {
            file: "Compute/VMSkusAllowed_Deny.json",
            params: json!({"listOfAllowedSKUs": ["Standard_B2s"]}),
            good: (
                vm(json!({"hardwareProfile": {"vmSize": "standard_b2s"}})),
                none(),
            ),
            bad: (
                vm(json!({"hardwareProfile": {"vmSize": "Standard_D4s_v3"}})),
                none(),
            ),
        },
        Case {
            file: "Cosmos DB/Cosmos_Locations_Deny.json",
            params: json!({"listOfAllowedLocations": ["westeurope", "northeurope"]}),
            good: (
                res(
                    "Microsoft.DocumentDB/databaseAccounts",
                    "db",
                    json!({"locations": [{"locationName": "West Europe"}, {"locationName": "North Europe"}]}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.DocumentDB/databaseAccounts",
                    "db",
                    json!({"locations": [{"locationName": "West Europe"}, {"locationName": "East US"}]}),
                ),
                none(),
            ),
        },
        Case {
            file: "General/AllowedLocations_Deny.json",
            params: json!({"listOfAllowedLocations": ["westeurope"]}),
            good: (st(json!({})), none()),
            bad: (at(st(json!({})), "eastus"), none()),
        },
        Case {
            file: "General/AllowedResourceTypes_Deny.json",
            params: json!({"listOfResourceTypesAllowed": ["Microsoft.Storage/storageAccounts"]}),
            good: (st(json!({})), none()),
            bad: (kv(json!({})), none()),
        },
        Case {
            file: "General/InvalidResourceTypes_Deny.json",
            params: json!({"listOfResourceTypesNotAllowed": ["Microsoft.KeyVault/vaults"]}),
            good: (st(json!({})), none()),
            bad: (kv(json!({})), none()),
        },
        Case {
            file: "General/ResourceGroupAllowedLocations_Deny.json",
            params: json!({"listOfAllowedLocations": ["westeurope"]}),
            good: (rg("westeurope", json!({})), none()),
            bad: (rg("eastus", json!({})), none()),
        },
        Case {
            file: "General/ResourceType_denyActionDelete.json",
            params: json!({"listOfResourceTypesDisallowedForDeletion": ["Microsoft.KeyVault/vaults"]}),
            good: (st(json!({})), none()),
            bad: (kv(json!({})), none()),
        },
        Case {
            file: "General/ResourcesInResourceGroupLocation_Audit.json",
            params: json!({}),
            good: (st(json!({})), none()),
            bad: (at(st(json!({})), "eastus"), none()),
        },
        Case {
            file: "General/Subscription_AuditCustomRBACRoles_Audit.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.Authorization/roleDefinitions",
                    "r",
                    json!({"type": "BuiltInRole"}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.Authorization/roleDefinitions",
                    "r",
                    json!({"type": "CustomRole"}),
                ),
                none(),
            ),
        },
        Case {
            file: "Key Vault/AuditDiagnosticLog_Audit.json",
            params: json!({}),
            good: (
                kv(json!({})),
                vec![diag(
                    "d",
                    json!({"storageAccountId": "/s", "logs": [{"category": "AuditEvent", "enabled": true, "retentionPolicy": {"enabled": true, "days": 365}}]}),
                )],
            ),
            bad: (
                kv(json!({})),
                vec![diag(
                    "d",
                    json!({"logs": [{"category": "AuditEvent", "enabled": false}]}),
                )],
            ),
        },
        Case {
            file: "Key Vault/FirewallEnabled_Audit.json",
            params: json!({}),
            good: (
                kv(
                    json!({"networkAcls": {"defaultAction": "Deny"}, "publicNetworkAccess": "Disabled"}),
                ),
                none(),
            ),
            bad: (
                kv(
                    json!({"networkAcls": {"defaultAction": "Allow"}, "publicNetworkAccess": "Enabled"}),
                ),
                none(),
            ),
        },
        Case {
            file: "Key Vault/Recoverable_Audit.json",
            params: json!({}),
            good: (
                kv(json!({"enableSoftDelete": true, "enablePurgeProtection": true})),
                none(),
            ),
            bad: (kv(json!({"enableSoftDelete": true})), none()),
        },
        Case {
            file: "Key Vault/Secrets_ExpirationSet.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.KeyVault.Data/vaults/secrets",
                    "s",
                    json!({"attributes": {"expiresOn": "2027-01-01T00:00:00Z"}}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.KeyVault.Data/vaults/secrets",
                    "s",
                    json!({"attributes": {}}),
                ),
                none(),
            ),
        },
        Case {
            file: "Key Vault/Should_Use_RBAC.json",
            params: json!({}),
            good: (kv(json!({"enableRbacAuthorization": true})), none()),
            bad: (kv(json!({"enableRbacAuthorization": false})), none()),
        },
        Case {
            file: "Key Vault/SoftDeleteMustBeEnabled_Audit.json",
            params: json!({}),
            good: (kv(json!({"enableSoftDelete": true})), none()),
            bad: (kv(json!({"enableSoftDelete": false})), none()),
        },
        Case {
            file: "Lighthouse/AllowCertainManagingTenantIds_Deny.json",
            params: json!({"listOfAllowedTenants": ["10000000-0000-0000-0000-000000000001"]}),
            good: (
                res(
                    "Microsoft.ManagedServices/registrationDefinitions",
                    "d",
                    json!({"managedByTenantId": "10000000-0000-0000-0000-000000000001"}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.ManagedServices/registrationDefinitions",
                    "d",
                    json!({"managedByTenantId": "99999999-0000-0000-0000-000000000009"}),
                ),
                none(),
            ),
        },
        Case {
            file: "Lighthouse/Delegations_Audit.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.ManagedServices/registrationDefinitions",
                    "d",
                    json!({}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.ManagedServices/registrationAssignments",
                    "a",
                    json!({}),
                ),
                none(),
            ),
        },
        Case {
            file: "Maps/BlockGlobalDataProcessing_Deny.json",
            params: json!({"listOfAllowedLocations": ["westeurope"]}),
            good: (
                res(
                    "Microsoft.Maps/accounts",
                    "m",
                    json!({"locations": [{"locationName": "West Europe"}]}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.Maps/accounts",
                    "m",
                    json!({"locations": [{"locationName": "East US"}]}),
                ),
                none(),
            ),
        },
        Case {
            file: "Monitoring/ActivityLogRetention_365orGreater.json",
            params: json!({}),
            good: (
                sub(),
                vec![
                    json!({"type": "Microsoft.Insights/logProfiles", "name": "default", "properties": {"retentionPolicy": {"enabled": true, "days": 365}}}),
                ],
            ),
            bad: (
                sub(),
                vec![
                    json!({"type": "Microsoft.Insights/logProfiles", "name": "default", "properties": {"retentionPolicy": {"enabled": true, "days": 30}}}),
                ],
            ),
        },
        Case {
            file: "Monitoring/DataConnectorsAzureActivity.json",
            params: json!({"logAnalytics": WS}),
            good: (
                sub(),
                vec![diag(
                    "subscriptionToLa",
                    json!({"workspaceId": WS, "logs": [{"category": "Administrative", "enabled": true}]}),
                )],
            ),
            bad: (
                sub(),
                vec![diag(
                    "subscriptionToLa",
                    json!({"workspaceId": "/other", "logs": [{"category": "Administrative", "enabled": true}]}),
                )],
            ),
        },
        Case {
            file: "Monitoring/DiagnosticSettingsForTypes_Audit.json",
            params: json!({"listOfResourceTypes": ["Microsoft.KeyVault/vaults"]}),
            good: (
                kv(json!({})),
                vec![diag(
                    "d",
                    json!({"logs": [{"enabled": true}], "metrics": [{"enabled": true}]}),
                )],
            ),
            bad: (
                kv(json!({})),
                vec![diag(
                    "d",
                    json!({"logs": [{"enabled": true}], "metrics": [{"enabled": false}]}),
                )],
            ),
        },
        Case {
            file: "Monitoring/KeyVault_DeployDiagnosticLog_Deploy_LogAnalytics.json",
            params: json!({"logAnalytics": WS}),
            good: (
                kv(json!({})),
                vec![diag(
                    "setbypolicy_logAnalytics",
                    json!({"workspaceId": WS, "logs": [{"category": "AuditEvent", "enabled": true}], "metrics": [{"category": "AllMetrics", "enabled": false}]}),
                )],
            ),
            bad: (
                kv(json!({})),
                vec![diag(
                    "another-name",
                    json!({"workspaceId": WS, "logs": [{"category": "AuditEvent", "enabled": true}], "metrics": [{"category": "AllMetrics", "enabled": false}]}),
                )],
            ),
        },
        Case {
            file: "Network/NetworkPublicIPNic_Deny.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.Network/networkInterfaces",
                    "nic",
                    json!({"ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": "/s"}}}]}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.Network/networkInterfaces",
                    "nic",
                    json!({"ipConfigurations": [{"name": "ip", "properties": {"publicIPAddress": {"id": "/pip"}}}]}),
                ),
                none(),
            ),
        },
        Case {
            file: "Network/NetworkSecurityGroup_FlowLog_Audit.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.Network/networkSecurityGroups",
                    "n",
                    json!({"flowLogs": [{"id": "/fl"}]}),
                ),
                none(),
            ),
            bad: (
                res("Microsoft.Network/networkSecurityGroups", "n", json!({})),
                none(),
            ),
        },
        Case {
            file: "Network/NetworkWatcherFlowLog_Enabled_Audit.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.Network/networkWatchers/flowLogs",
                    "fl",
                    json!({"enabled": true}),
                ),
                none(),
            ),
            bad: (
                res(
                    "Microsoft.Network/networkWatchers/flowLogs",
                    "fl",
                    json!({"enabled": false}),
                ),
                none(),
            ),
        },
        Case {
            file: "Network/NetworkWatcher_DINE.json",
            params: json!({}),
            good: (
                res("Microsoft.Network/virtualNetworks", "v", json!({})),
                vec![res("Microsoft.Network/networkWatchers", "nw", json!({}))],
            ),
            bad: (
                res("Microsoft.Network/virtualNetworks", "v", json!({})),
                vec![at(
                    res("Microsoft.Network/networkWatchers", "nw", json!({})),
                    "eastus",
                )],
            ),
        },
        Case {
            file: "Network/NetworkWatcher_Enabled_Audit.json",
            params: json!({}),
            good: (
                res("Microsoft.Network/virtualNetworks", "v", json!({})),
                vec![res("Microsoft.Network/networkWatchers", "nw", json!({}))],
            ),
            bad: (
                res("Microsoft.Network/virtualNetworks", "v", json!({})),
                none(),
            ),
        },
        Case {
            file: "Regulatory Compliance/CMA_C1143.json",
            params: json!({}),
            good: (st(json!({})), none()),
            bad: (sub(), none()),
        },
        Case {
            file: "Security Center/ASC_NetworkSecurityGroupsOnSubnets_Audit.json",
            params: json!({}),
            good: (
                res(
                    "Microsoft.Network/virtualNetworks/subnets",
                    "v/s",
                    json!({}),
                ),
                vec![
                    json!({"type": "Microsoft.Security/assessments", "name": "eade5b56-eefd-444f-95c8-23f29e5d93cb", "properties": {"status": {"code": "Healthy"}}}),
                ],
            ),
            bad: (
                res(
                    "Microsoft.Network/virtualNetworks/subnets",
                    "v/s",
                    json!({}),
                ),
                vec![
                    json!({"type": "Microsoft.Security/assessments", "name": "eade5b56-eefd-444f-95c8-23f29e5d93cb", "properties": {"status": {"code": "Unhealthy"}}}),
                ],
            ),
        },
        Case {
            file: "Storage/ASC_Storage_DisallowPublicBlobAccess_Audit.json",
            params: json!({}),
            good: (st(json!({"allowBlobPublicAccess": false})), none()),
            bad: (st(json!({"allowBlobPublicAccess": true})), none()),
        },
        Case {
            file: "Storage/StorageAccountAllowCrossTenantReplication_Audit.json",
            params: json!({}),
            good: (st(json!({"allowCrossTenantReplication": false})), none()),
            bad: (st(json!({})), none()),
        },
        Case {
            file: "Storage/StorageAccountAllowSharedKeyAccess_Audit.json",
            params: json!({}),
            good: (st(json!({"allowSharedKeyAccess": false})), none()),
            bad: (st(json!({})), none()),
        },
        Case {
            file: "Storage/StorageAccountMinimumTLSVersion_Audit.json",
            params: json!({}),
            good: (st(json!({"minimumTlsVersion": "TLS1_2"})), none()),
            bad: (st(json!({"minimumTlsVersion": "TLS1_0"})), none()),
        },
        Case {
            file: "Storage/StoragePublicNetworkAccess_Modify.json",
            params: json!({}),
            good: (st(json!({"publicNetworkAccess": "Disabled"})), none()),
            bad: (st(json!({"publicNetworkAccess": "Enabled"})), none()),
        },
        Case {
            file: "Storage/Storage_AuditForHTTPSEnabled_Audit.json",
            params: json!({}),
            good: (st(json!({"supportsHttpsTrafficOnly": true})), none()),
            bad: (st(json!({"supportsHttpsTrafficOnly": false})), none()),
        },
        Case {
            file: "Storage/Storage_NetworkAcls_Audit.json",
            params: json!({}),
            good: (
                st(json!({"networkAcls": {"defaultAction": "Deny"}})),
                none(),
            ),
            bad: (
                st(json!({"networkAcls": {"defaultAction": "Allow"}})),
                none(),
            ),
        },
        Case {
            file: "Tags/AddOrReplaceTag_Modify.json",
            params: tag.clone(),
            good: (tagged(st(json!({})), json!({"env": "prod"})), none()),
            bad: (tagged(st(json!({})), json!({"env": "dev"})), none()),
        },
        Case {
            file: "Tags/AddOrReplaceTag_ResourceGroup_Modify.json",
            params: tag.clone(),
            good: (rg("westeurope", json!({"env": "prod"})), none()),
            bad: (rg("westeurope", json!({})), none()),
        },
        Case {
            file: "Tags/ApplyTag_Append.json",
            params: tag.clone(),
            good: (tagged(st(json!({})), json!({"env": "x"})), none()),
            bad: (tagged(st(json!({})), json!({})), none()),
        },
        Case {
            file: "Tags/InheritTag_AddOrReplace_Modify.json",
            params: json!({"tagName": "env"}),
            good: (tagged(st(json!({})), json!({"env": "prod"})), none()),
            bad: (tagged(st(json!({})), json!({"env": "dev"})), none()),
        },
        Case {
            file: "Tags/InheritTag_Add_Modify.json",
            params: json!({"tagName": "env"}),
            good: (tagged(st(json!({})), json!({"env": "dev"})), none()),
            bad: (tagged(st(json!({})), json!({})), none()),
        },
        Case {
            file: "Tags/InheritTag_Append.json",
            params: json!({"tagName": "env"}),
            good: (tagged(st(json!({})), json!({"env": "dev"})), none()),
            bad: (tagged(st(json!({})), json!({})), none()),
        },
        Case {
            file: "Tags/RequireTagAndValue_Deny.json",
            params: tag.clone(),
            good: (tagged(st(json!({})), json!({"Env": "Prod"})), none()),
            bad: (tagged(st(json!({})), json!({"env": "dev"})), none()),
        },
        Case {
            file: "Tags/RequireTag_Deny.json",
            params: json!({"tagName": "env"}),
            good: (tagged(st(json!({})), json!({"env": ""})), none()),
            bad: (tagged(st(json!({})), json!({})), none()),
        },
        Case {
            file: "Tags/ResourceGroupRequireTagAndValue_Deny.json",
            params: tag.clone(),
            good: (rg("westeurope", json!({"env": "prod"})), none()),
            bad: (rg("westeurope", json!({"env": "dev"})), none()),
        },
        Case {
            file: "Tags/ResourceGroupRequireTag_Deny.json",
            params: json!({"tagName": "env"}),
            good: (rg("westeurope", json!({"env": "x"})), none()),
            bad: (rg("westeurope", json!({})), none()),
        },
    ]
}

fn assign(values: &Value) -> Value {
    Value::Object(
        values
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), json!({"value": v})))
            .collect(),
    )
}

#[test]
fn every_built_in_definition_on_a_compliant_and_a_non_compliant_body() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/policy/built-in-policies/policyDefinitions");
    let cases = cases();
    let mut seen = 0;
    for cat in std::fs::read_dir(&dir).unwrap() {
        let cat = cat.unwrap().path();
        for f in std::fs::read_dir(&cat).unwrap() {
            let f = f.unwrap().path();
            let rel = format!(
                "{}/{}",
                cat.file_name().unwrap().to_string_lossy(),
                f.file_name().unwrap().to_string_lossy()
            );
            let case = cases
                .iter()
                .find(|c| c.file == rel)
                .unwrap_or_else(|| panic!("no case for {rel}"));
            let body: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let name = body["name"].as_str().unwrap_or(&rel).to_string();
            let d = Definition::parse(&name, &body["properties"])
                .unwrap_or_else(|e| panic!("{rel}: {e:?}"));
            let params = d
                .resolve_parameters("a", Some(&assign(&case.params)))
                .unwrap_or_else(|e| panic!("{rel}: {e:?}"));
            assert!(
                compliant(&d, &params, &case.good.0, &case.good.1),
                "{rel}: the compliant body is not compliant"
            );
            assert!(
                !compliant(&d, &params, &case.bad.0, &case.bad.1),
                "{rel}: the non-compliant body is compliant"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, cases.len());
}

#[test]
fn modify_and_append_built_ins_change_the_body() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/policy/built-in-policies/policyDefinitions");
    let load = |f: &str| {
        let b: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
        Definition::parse(b["name"].as_str().unwrap(), &b["properties"]).unwrap()
    };
    let d = load("Tags/InheritTag_AddOrReplace_Modify.json");
    let p = d
        .resolve_parameters("a", Some(&assign(&json!({"tagName": "env"}))))
        .unwrap();
    let body = tagged(storage(json!({})), json!({"env": "dev"}));
    let o = evaluate(&d, &p, &body, &ctx()).unwrap();
    assert_eq!(o.effect, Effect::Modify);
    let out = apply_modify(
        &body,
        &o.details["operations"],
        o.details["conflictEffect"].as_str(),
    )
    .unwrap()
    .body;
    assert_eq!(out["tags"]["env"], "prod");
    assert!(!evaluate(&d, &p, &out, &ctx()).unwrap().matched);

    let d = load("Storage/StoragePublicNetworkAccess_Modify.json");
    let p = d.resolve_parameters("a", None).unwrap();
    let body = storage(json!({"publicNetworkAccess": "Enabled"}));
    let o = evaluate(&d, &p, &body, &ctx()).unwrap();
    let out = apply_modify(
        &body,
        &o.details["operations"],
        o.details["conflictEffect"].as_str(),
    )
    .unwrap()
    .body;
    assert_eq!(out["properties"]["publicNetworkAccess"], "Disabled");

    let d = load("Tags/ApplyTag_Append.json");
    let p = d
        .resolve_parameters(
            "a",
            Some(&assign(&json!({"tagName": "owner", "tagValue": "ops"}))),
        )
        .unwrap();
    let body = storage(json!({}));
    let o = evaluate(&d, &p, &body, &ctx()).unwrap();
    assert_eq!(o.effect, Effect::Append);
    assert_eq!(
        apply_append(&body, &o.details).unwrap()["tags"]["owner"],
        "ops"
    );
}

// --- the Lighthouse policy samples ---

fn sample(name: &str, i: usize) -> Definition {
    let all: Value = serde_json::from_str(include_str!(
        "../../fixtures/policy/samples/lighthouse-policy-rules.json"
    ))
    .unwrap();
    Definition::parse(name, &all[name][i]).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

#[test]
fn lighthouse_policy_samples() {
    let msp = "10000000-0000-0000-0000-000000000001";
    let rd = |t: &str| {
        res(
            "Microsoft.ManagedServices/registrationDefinitions",
            "d",
            json!({"managedByTenantId": t, "registrationDefinitionName": "Contoso"}),
        )
    };

    let d = sample("policy-allow-certain-managing-tenants", 0);
    let p = d
        .resolve_parameters("a", Some(&assign(&json!({"listOfAllowedTenants": [msp]}))))
        .unwrap();
    assert!(compliant(&d, &p, &rd(msp), &[]));
    let o = evaluate(&d, &p, &rd("99999999-0000-0000-0000-000000000009"), &ctx()).unwrap();
    assert_eq!((o.matched, o.effect), (true, Effect::Deny));

    let d = sample("policy-audit-delegation", 0);
    let p = d.resolve_parameters("a", None).unwrap();
    let o = evaluate(
        &d,
        &p,
        &res(
            "Microsoft.ManagedServices/registrationAssignments",
            "a",
            json!({}),
        ),
        &ctx(),
    )
    .unwrap();
    assert_eq!((o.matched, o.effect), (true, Effect::Audit));

    let d = sample("policy-enforce-https-storage", 0);
    assert_eq!(d.mode, Mode::Indexed);
    let p = d.resolve_parameters("a", None).unwrap();
    assert!(compliant(
        &d,
        &p,
        &storage(json!({"supportsHttpsTrafficOnly": true})),
        &[]
    ));
    let o = evaluate(
        &d,
        &p,
        &storage(json!({"supportsHttpsTrafficOnly": false})),
        &ctx(),
    )
    .unwrap();
    assert_eq!((o.matched, o.effect), (true, Effect::Deny));

    let d = sample("policy-add-or-replace-tag", 0);
    let p = d.resolve_parameters("a", None).unwrap();
    let body = vm(json!({}));
    let o = evaluate(&d, &p, &body, &ctx()).unwrap();
    let out = apply_modify(&body, &o.details["operations"], None)
        .unwrap()
        .body;
    assert_eq!(out["tags"]["managedByTenant"], "Lighthouse");

    let d = sample("policy-enforce-keyvault-monitoring", 0);
    let p = d
        .resolve_parameters("a", Some(&assign(&json!({"logAnalytics": WS}))))
        .unwrap();
    let good = diag(
        "policy-diag",
        json!({"workspaceId": WS, "logs": [{"category": "AuditEvent", "enabled": true}], "metrics": [{"category": "AllMetrics", "enabled": true}]}),
    );
    assert!(compliant(&d, &p, &kv(json!({})), &[good]));
    assert!(!compliant(&d, &p, &kv(json!({})), &[]));
    let o = evaluate(&d, &p, &kv(json!({})), &ctx()).unwrap();
    assert_eq!(o.effect, Effect::DeployIfNotExists);

    let d = sample("policy-enforce-sub-monitoring", 0);
    let p = d.resolve_parameters("a", Some(&assign(&json!({"workspaceName": "ws", "automationAccountName": "aa", "workspaceRegion": "westeurope", "automationRegion": "westeurope"})))).unwrap();
    let mgmt = json!({"id": format!("/subscriptions/{SUB}/resourceGroups/fabrikam-prod-mgmt"), "name": "fabrikam-prod-mgmt", "type": "Microsoft.Resources/resourceGroups", "location": "westeurope"});
    assert!(compliant(&d, &p, &sub(), &[mgmt]));
    assert!(!compliant(&d, &p, &sub(), &[rg("westeurope", json!({}))]));

    let d = sample("policy-delegate-management-groups", 0);
    let p = d.resolve_parameters("a", Some(&assign(&json!({"managedByTenantId": msp, "managedByName": "Contoso", "managedByDescription": "x", "managedByAuthorizations": []})))).unwrap();
    assert!(compliant(&d, &p, &sub(), &[rd(msp)]));
    assert!(!compliant(
        &d,
        &p,
        &sub(),
        &[rd("99999999-0000-0000-0000-000000000009")]
    ));
    let o = evaluate(&d, &p, &sub(), &ctx()).unwrap();
    assert_eq!(
        o.details["deployment"]["properties"]["parameters"]["managedByTenantId"]["value"],
        msp
    );

    // the initiative's two definitions, as deployed (deniedLocation eastus, deniedResource Key Vault)
    let loc = sample("policy-initiative", 0);
    let p = loc.resolve_parameters("a", None).unwrap();
    assert!(compliant(&loc, &p, &storage(json!({})), &[]));
    assert!(!compliant(&loc, &p, &at(storage(json!({})), "eastus"), &[]));
    let ty = sample("policy-initiative", 1);
    let p = ty.resolve_parameters("a", None).unwrap();
    assert!(!compliant(&ty, &p, &kv(json!({})), &[]));
    assert!(compliant(&ty, &p, &storage(json!({})), &[]));
}

#[test]
fn evaluated_expressions_as_azure_reports_them() {
    let d = sample("policy-enforce-https-storage", 0);
    let o = evaluate(
        &d,
        &Map::new(),
        &storage(json!({"supportsHttpsTrafficOnly": false})),
        &ctx(),
    )
    .unwrap();
    assert_eq!(
        o.evaluated,
        vec![
            json!({"result": "True", "expressionKind": "Field", "expression": "type", "path": "type",
                "expressionValue": "Microsoft.Storage/storageAccounts", "targetValue": "Microsoft.Storage/storageAccounts", "operator": "Equals"}),
            json!({"result": "False", "expressionKind": "Field", "expression": "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly",
                "path": "properties.supportsHttpsTrafficOnly", "expressionValue": false, "targetValue": "true", "operator": "Equals"}),
        ]
    );
    let d = def(
        json!({"if": {"count": {"field": "Microsoft.Network/networkSecurityGroups/securityRules[*]",
        "where": {"field": "Microsoft.Network/networkSecurityGroups/securityRules[*].access", "equals": "Allow"}}, "greater": 0},
        "then": {"effect": "audit"}}),
        json!({}),
    );
    let nsg = res(
        "Microsoft.Network/networkSecurityGroups",
        "n",
        json!({"securityRules": [{"properties": {"access": "Allow"}}]}),
    );
    let o = evaluate(&d, &Map::new(), &nsg, &ctx()).unwrap();
    assert_eq!(o.evaluated.len(), 1);
    assert_eq!(
        (
            o.evaluated[0]["expressionKind"].as_str(),
            o.evaluated[0]["expressionValue"].as_i64()
        ),
        (Some("Count"), Some(1))
    );
}
