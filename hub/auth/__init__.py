"""People's logins, bearer tokens, the OAuth2 server and the principal every check is made on."""
