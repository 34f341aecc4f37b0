"""payments-waf: a regional AWS WAFv2 web ACL in front of the payments API stage (plugin ``waf``)."""
