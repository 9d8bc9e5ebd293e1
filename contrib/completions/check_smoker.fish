complete -c check_smoker -s H -l host -d 'smokerd to ask: host, host:port or http(s)://host:port' -r
complete -c check_smoker -l category -d 'The category of tests to check' -r
complete -c check_smoker -l component -d 'The tests component to check' -r
complete -c check_smoker -s t -l timeout -d 'Give up after this many seconds (UNKNOWN)' -r
complete -c check_smoker -l max-age -d 'A result older than this is UNKNOWN (default: twice the check\'s Interval plus its Timeout; unscheduled checks never go stale)' -r
complete -c check_smoker -l token -d 'Bearer token for daemons that require one' -r
complete -c check_smoker -l ca-file -d 'Trust the CA certificates in this PEM file (https:// hosts)' -r -F
complete -c check_smoker -s f -l force -d 'Force plugins run (otherwise just report last results)'
complete -c check_smoker -l health -d 'Check only health checks (Type healthCheck)'
complete -c check_smoker -l insecure -d 'Do not verify TLS certificates and host names'
complete -c check_smoker -s h -l help -d 'Print help'
complete -c check_smoker -s V -l version -d 'Print version'
