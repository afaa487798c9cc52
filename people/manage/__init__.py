"""Settings › People: account admins run users, teams, seats and skills (issue 13; R7, R8,
R9, R17). Views parse, check access (`account_admin_required`), call one service of
`helpdesk.services` and redirect; reads are in `selectors`."""
