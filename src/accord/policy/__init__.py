"""Access policy as OpenStack operators know it: Cyborg's rule names and check strings, scope
types, and overrides from an oslo.policy-style YAML file.

`checks` parses and evaluates the check-string grammar, `defaults` holds the rules, `enforcer`
merges a policy file over them and decides.
"""
