//! Resource dependency graph (Ref / GetAtt / Sub / DependsOn), ordering and cycles.

use indexmap::{IndexMap, IndexSet};

use crate::error::{ErrorKind, Span, TemplateError};
use crate::eval::{getatt_parts, parse_sub, sub_args, SubPart};
use crate::node::{Node, NodeKind};
use crate::template::Template;

/// A reference found in an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    /// `Ref` or `${X}`
    Ref(String, Span),
    /// `Fn::GetAtt` or `${X.Attr}`
    GetAtt(String, Span),
    /// `Fn::If` condition name
    Condition(String, Span),
}

/// Collect references; with `conditions`, only the taken Fn::If branch is walked.
pub(crate) fn collect_refs(
    node: &Node,
    conditions: Option<&IndexMap<String, bool>>,
    out: &mut Vec<Reference>,
) {
    match &node.kind {
        NodeKind::Seq(items) => {
            for i in items {
                collect_refs(i, conditions, out);
            }
        }
        NodeKind::Map(m) => {
            if let Some((f, arg)) = node.as_intrinsic() {
                match f {
                    "Ref" => {
                        if let Some(s) = arg.as_str() {
                            out.push(Reference::Ref(s.to_string(), arg.span));
                        }
                        return;
                    }
                    "Fn::GetAtt" => {
                        if let Some((id, attr)) = getatt_parts(arg) {
                            out.push(Reference::GetAtt(id, arg.span));
                            collect_refs(&attr, conditions, out);
                        }
                        return;
                    }
                    "Fn::Sub" => {
                        if let Some((s, vars)) = sub_args(arg) {
                            for p in parse_sub(s) {
                                if let SubPart::Var(v) = p {
                                    if vars.is_some_and(|m| m.contains_key(&v)) {
                                        continue;
                                    }
                                    match v.split_once('.') {
                                        Some((r, _)) => {
                                            out.push(Reference::GetAtt(r.to_string(), arg.span))
                                        }
                                        None => out.push(Reference::Ref(v, arg.span)),
                                    }
                                }
                            }
                            if let Some(m) = vars {
                                for v in m.values() {
                                    collect_refs(v, conditions, out);
                                }
                            }
                        }
                        return;
                    }
                    "Fn::If" => {
                        if let Some([c, a, b]) = arg.as_seq() {
                            if let Some(name) = c.as_str() {
                                out.push(Reference::Condition(name.to_string(), c.span));
                                match conditions.and_then(|cs| cs.get(name)) {
                                    Some(true) => collect_refs(a, conditions, out),
                                    Some(false) => collect_refs(b, conditions, out),
                                    None => {
                                        collect_refs(a, conditions, out);
                                        collect_refs(b, conditions, out);
                                    }
                                }
                                return;
                            }
                        }
                    }
                    _ => {}
                }
            }
            for v in m.values() {
                collect_refs(v, conditions, out);
            }
        }
        _ => {}
    }
}

fn resource_nodes(r: &crate::template::Resource) -> impl Iterator<Item = &Node> {
    r.properties
        .iter()
        .chain(r.metadata.iter())
        .chain(r.creation_policy.iter())
        .chain(r.update_policy.iter())
}

fn build(
    t: &Template,
    conditions: Option<&IndexMap<String, bool>>,
) -> Result<IndexMap<String, Vec<String>>, TemplateError> {
    let active = |id: &str| -> bool {
        match (
            conditions,
            t.resources.get(id).and_then(|r| r.condition.as_deref()),
        ) {
            (Some(cs), Some(c)) => cs.get(c).copied().unwrap_or(false),
            _ => true,
        }
    };
    let mut graph = IndexMap::new();
    for (id, r) in &t.resources {
        if !active(id) {
            continue;
        }
        let mut deps: IndexSet<String> = IndexSet::new();
        for (d, span) in &r.depends_on {
            if !t.resources.contains_key(d) {
                return Err(TemplateError::format(
                    format!("Unresolved resource dependencies [{d}] in the Resources block of the template"),
                    *span,
                ));
            }
            if active(d) {
                deps.insert(d.clone());
            }
        }
        let mut refs = Vec::new();
        for n in resource_nodes(r) {
            collect_refs(n, conditions, &mut refs);
        }
        for rf in refs {
            if let Reference::Ref(name, _) | Reference::GetAtt(name, _) = rf {
                if t.resources.contains_key(&name) && active(&name) {
                    deps.insert(name);
                }
            }
        }
        graph.insert(id.clone(), deps.into_iter().collect());
    }
    Ok(graph)
}

/// Every resource → the resources it depends on (static: both Fn::If branches).
/// An unknown DependsOn target is an error.
pub fn dependencies(t: &Template) -> Result<IndexMap<String, Vec<String>>, TemplateError> {
    build(t, None)
}

/// As `dependencies`, for condition-true resources only and following only
/// the taken branch of each Fn::If.
pub fn dependencies_with_conditions(
    t: &Template,
    conditions: &IndexMap<String, bool>,
) -> Result<IndexMap<String, Vec<String>>, TemplateError> {
    build(t, Some(conditions))
}

/// Resources in a valid creation order (dependencies first; ties in template order).
pub fn creation_order(deps: &IndexMap<String, Vec<String>>) -> Result<Vec<String>, TemplateError> {
    let cycles = find_cycles(deps);
    if !cycles.is_empty() {
        return Err(TemplateError::new(
            ErrorKind::Circular {
                cycle: cycles.clone(),
            },
            format!(
                "Circular dependency between resources: [{}]",
                cycles.join(", ")
            ),
            Span::NONE,
        ));
    }
    let mut indeg: IndexMap<&str, usize> = deps.keys().map(|k| (k.as_str(), 0)).collect();
    let mut rdeps: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for (k, ds) in deps {
        for d in ds {
            if indeg.contains_key(d.as_str()) {
                if let Some(x) = indeg.get_mut(k.as_str()) {
                    *x += 1;
                }
                rdeps.entry(d.as_str()).or_default().push(k.as_str());
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = indeg
        .iter()
        .enumerate()
        .filter(|(_, (_, d))| **d == 0)
        .map(|(i, _)| i)
        .collect();
    let mut out = Vec::with_capacity(deps.len());
    while let Some(i) = ready.pop_first() {
        let Some((k, _)) = indeg.get_index(i) else {
            break;
        };
        let k = *k;
        out.push(k.to_string());
        for dep in rdeps.get(k).cloned().unwrap_or_default() {
            if let Some((j, _, x)) = indeg.get_full_mut(dep) {
                *x -= 1;
                if *x == 0 {
                    ready.insert(j);
                }
            }
        }
    }
    Ok(out)
}

/// Reverse of the creation order: dependents are deleted first.
pub fn deletion_order(deps: &IndexMap<String, Vec<String>>) -> Result<Vec<String>, TemplateError> {
    let mut o = creation_order(deps)?;
    o.reverse();
    Ok(o)
}

/// Resources on a cycle (strongly connected components of size > 1, or self loops), in template order.
pub fn find_cycles(deps: &IndexMap<String, Vec<String>>) -> Vec<String> {
    struct St<'a> {
        deps: &'a IndexMap<String, Vec<String>>,
        index: IndexMap<&'a str, (usize, usize)>,
        stack: Vec<&'a str>,
        on: IndexSet<&'a str>,
        next: usize,
        cyclic: IndexSet<&'a str>,
    }
    fn strong<'a>(s: &mut St<'a>, v: &'a str) {
        s.index.insert(v, (s.next, s.next));
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        let ds = s.deps.get(v).map(|d| d.as_slice()).unwrap_or(&[]);
        for w in ds {
            let w = w.as_str();
            if !s.deps.contains_key(w) {
                continue;
            }
            if w == v {
                s.cyclic.insert(v);
            }
            if !s.index.contains_key(w) {
                strong(s, w);
                let wl = s.index.get(w).map(|x| x.1).unwrap_or(usize::MAX);
                if let Some(x) = s.index.get_mut(v) {
                    x.1 = x.1.min(wl);
                }
            } else if s.on.contains(w) {
                let wi = s.index.get(w).map(|x| x.0).unwrap_or(usize::MAX);
                if let Some(x) = s.index.get_mut(v) {
                    x.1 = x.1.min(wi);
                }
            }
        }
        let (vi, vl) = s.index.get(v).copied().unwrap_or((0, 0));
        if vi == vl {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.shift_remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.cyclic.extend(comp);
            }
        }
    }
    let mut s = St {
        deps,
        index: IndexMap::new(),
        stack: Vec::new(),
        on: IndexSet::new(),
        next: 0,
        cyclic: IndexSet::new(),
    };
    for k in deps.keys() {
        if !s.index.contains_key(k.as_str()) {
            strong(&mut s, k.as_str());
        }
    }
    deps.keys()
        .filter(|k| s.cyclic.contains(k.as_str()))
        .cloned()
        .collect()
}
