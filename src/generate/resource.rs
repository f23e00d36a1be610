//! Resource attributes of each (service, track) deployment, and of the one deployment without
//! a track a mesh service runs: one pod per deployment.

use super::simulate::{AttrValue, ResourceId, RESOURCES};
use super::topology::{Track, SERVICES};
use std::borrow::Cow;

/// Schema URL the simulated SDKs declare.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.26.0";

/// Service and track of a resource id (an untracked deployment runs stable's version).
pub fn split(rid: ResourceId) -> (usize, Track) {
    if is_untracked(rid) {
        return (rid - SERVICES.len() * 2, Track::Stable);
    }
    let track = if rid.is_multiple_of(2) {
        Track::Stable
    } else {
        Track::Canary
    };
    (rid / 2, track)
}

/// Whether `rid` is a deployment without a track ([`super::simulate::untracked_resource_id`]).
pub fn is_untracked(rid: ResourceId) -> bool {
    rid >= SERVICES.len() * 2
}

/// A pod-name suffix like Kubernetes generates (replica-set hash, pod id), fixed per resource.
fn pod_suffix(rid: ResourceId) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = (rid as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = |n: usize| -> String {
        (0..n)
            .map(|_| {
                x ^= x >> 29;
                x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                ALPHABET[(x >> 40) as usize % ALPHABET.len()] as char
            })
            .collect()
    };
    let rs = next(9);
    let pod = next(5);
    format!("{rs}-{pod}")
}

/// Resource attributes of `rid`, in the order the SDKs' resource detectors add them.
pub fn resource_attributes(rid: ResourceId) -> Vec<(&'static str, AttrValue)> {
    assert!(rid < RESOURCES, "resource id {rid} out of range");
    let (service, track) = split(rid);
    let svc = &SERVICES[service];
    let st = |v: &str| AttrValue::Str(Cow::Owned(v.to_string()));
    let untracked = is_untracked(rid);
    let deployment = if untracked {
        svc.name.to_string()
    } else {
        format!("{}-{}", svc.name, track.name())
    };
    let mut attrs = vec![
        ("service.name", AttrValue::Str(Cow::Borrowed(svc.name))),
        ("service.namespace", st("shop")),
        (
            "service.version",
            AttrValue::Str(Cow::Borrowed(track.version())),
        ),
        (
            "deployment.track",
            AttrValue::Str(Cow::Borrowed(track.name())),
        ),
        ("deployment.environment.name", st("prod")),
        ("telemetry.sdk.name", st("opentelemetry")),
        (
            "telemetry.sdk.language",
            AttrValue::Str(Cow::Borrowed(svc.language)),
        ),
        (
            "telemetry.sdk.version",
            AttrValue::Str(Cow::Borrowed(svc.sdk_version)),
        ),
        (
            "host.name",
            st(&format!(
                "ip-10-0-{}-{}.ec2.internal",
                service + 1,
                10 + rid
            )),
        ),
        ("k8s.namespace.name", st("shop")),
        ("k8s.deployment.name", st(&deployment)),
        (
            "k8s.pod.name",
            st(&format!("{deployment}-{}", pod_suffix(rid))),
        ),
        ("process.pid", AttrValue::Int(1 + 6 * rid as i64)),
    ];
    if untracked {
        attrs.retain(|(k, _)| *k != "deployment.track");
    }
    attrs
}

/// Instrumentation scope (name, version) of `rid`'s spans.
pub fn scope(rid: ResourceId) -> (&'static str, &'static str) {
    let svc = &SERVICES[split(rid).0];
    (svc.scope_name, svc.scope_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_distinct_and_well_formed() {
        let mut pods: Vec<String> = (0..RESOURCES)
            .map(|r| {
                let attrs = resource_attributes(r);
                assert_eq!(
                    attrs.iter().any(|(k, _)| *k == "deployment.track"),
                    !is_untracked(r)
                );
                match attrs.iter().find(|(k, _)| *k == "k8s.pod.name") {
                    Some((_, AttrValue::Str(p))) => p.to_string(),
                    other => panic!("unexpected {other:?}"),
                }
            })
            .collect();
        assert!(pods[1].starts_with("frontend-canary-"), "{}", pods[1]);
        pods.sort();
        pods.dedup();
        assert_eq!(pods.len(), RESOURCES);
        assert_eq!(
            split(super::super::simulate::resource_id(3, Track::Canary)),
            (3, Track::Canary)
        );
    }
}
