"""Configuration: YAML with source lines (``yamlsrc``), the Ansible-style inventory
(``inventory``) and each host's checked variables (``hostvars``), playbooks
(``playbook``), the parameter registry (``params``) and the resolved plan of one
experiment on one host (``plan``). Loading never touches a host; every error names the
file, the line and the field."""
