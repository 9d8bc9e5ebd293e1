# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_smokercli_global_optspecs
    string join \n f/force l/list s/hosts= p/plugins= exclude-plugins= filter= exclude category= component= health smoke locked filter-status= nook error warn unknown ok o/pretty= no-colors no-progress v/verbose d/debug e/exitcode junit-config-file= token= ca-file= insecure h/help V/version
end

function __fish_smokercli_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_smokercli_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_smokercli_using_subcommand
    set -l cmd (__fish_smokercli_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c smokercli -n "__fish_smokercli_needs_command" -s s -l hosts -d 'Hosts with running smokerd: host, host:port or http(s)://host:port (default localhost)' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -s p -l plugins -d 'Filter plugins by name' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l exclude-plugins -d 'Exclude plugins by names' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l filter -d 'Filter plugins by its parameters, eg. --filter \'Category connectors\'' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l category -d 'Filter plugins by Category parameter' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l component -d 'Filter plugins by Component parameter (eg. server)' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l filter-status -d 'Filter plugins by status, eg. --filter-status ERROR WARN' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -s o -l pretty -d 'Output format: minimal / normal / long / full / raw / json / tap / xml / junit / nagios' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l junit-config-file -d 'YAML overriding the xml formatter config' -r -F
complete -c smokercli -n "__fish_smokercli_needs_command" -l token -d 'Bearer token for daemons that require one' -r
complete -c smokercli -n "__fish_smokercli_needs_command" -l ca-file -d 'Trust the CA certificates in this PEM file (https:// hosts)' -r -F
complete -c smokercli -n "__fish_smokercli_needs_command" -s f -l force -d 'Force plugins run (otherwise just print last results)'
complete -c smokercli -n "__fish_smokercli_needs_command" -s l -l list -d 'List plugins'
complete -c smokercli -n "__fish_smokercli_needs_command" -l exclude -d 'Negative filters (exclude) - works only for the first filter'
complete -c smokercli -n "__fish_smokercli_needs_command" -l health -d 'Filter plugins by Type healthCheck'
complete -c smokercli -n "__fish_smokercli_needs_command" -l smoke -d 'Filter plugins by Type smokeTest'
complete -c smokercli -n "__fish_smokercli_needs_command" -l locked -d 'Platform is locked: only plugins with RunOnLocked true'
complete -c smokercli -n "__fish_smokercli_needs_command" -l nook -d 'Only non-OK plugins (ERROR, WARN, UNKNOWN)'
complete -c smokercli -n "__fish_smokercli_needs_command" -l error -d 'Only ERROR'
complete -c smokercli -n "__fish_smokercli_needs_command" -l warn -l warning -d 'Only WARN'
complete -c smokercli -n "__fish_smokercli_needs_command" -l unknown -d 'Only UNKNOWN'
complete -c smokercli -n "__fish_smokercli_needs_command" -l ok -d 'Only OK'
complete -c smokercli -n "__fish_smokercli_needs_command" -l no-colors -d 'Don\'t use colors in output (also NO_COLOR; colors only on a terminal)'
complete -c smokercli -n "__fish_smokercli_needs_command" -l no-progress -d 'Don\'t show progress bar'
complete -c smokercli -n "__fish_smokercli_needs_command" -s v -l verbose -d 'Be verbose'
complete -c smokercli -n "__fish_smokercli_needs_command" -s d -l debug -d 'Debug output'
complete -c smokercli -n "__fish_smokercli_needs_command" -s e -l exitcode -d 'Exit 69 if any host is ERROR or UNKNOWN'
complete -c smokercli -n "__fish_smokercli_needs_command" -l insecure -d 'Do not verify TLS certificates and host names'
complete -c smokercli -n "__fish_smokercli_needs_command" -s h -l help -d 'Print help'
complete -c smokercli -n "__fish_smokercli_needs_command" -s V -l version -d 'Print version'
complete -c smokercli -n "__fish_smokercli_needs_command" -f -a "history" -d 'Show the recent runs of a check (GET /v2/plugins/NAME/runs)'
complete -c smokercli -n "__fish_smokercli_needs_command" -f -a "output" -d 'Print the captured stdout/stderr of a run (GET /v2/plugins/NAME/runs/ID/output)'
complete -c smokercli -n "__fish_smokercli_needs_command" -f -a "send-nsca" -d 'Send passive check results read from stdin to an NSCA server (as send_nsca 2.10)'
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -s s -l hosts -d 'Hosts with running smokerd (default localhost)' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -s n -l limit -d 'Number of runs to show' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -s o -l pretty -d 'Output format: text or json' -r -f -a "text\t''
json\t''"
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -l token -d 'Bearer token for daemons that require one' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -l ca-file -d 'Trust the CA certificates in this PEM file (https:// hosts)' -r -F
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -l no-colors -d 'Don\'t use colors in output'
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -l insecure -d 'Do not verify TLS certificates and host names'
complete -c smokercli -n "__fish_smokercli_using_subcommand history" -s h -l help -d 'Print help'
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -l run -d 'Run id (default: the latest run)' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -s s -l hosts -d 'Hosts with running smokerd (default localhost)' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -s o -l pretty -d 'Output format: text (stdout and stderr as captured) or json' -r -f -a "text\t''
json\t''"
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -l token -d 'Bearer token for daemons that require one' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -l ca-file -d 'Trust the CA certificates in this PEM file (https:// hosts)' -r -F
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -l insecure -d 'Do not verify TLS certificates and host names'
complete -c smokercli -n "__fish_smokercli_using_subcommand output" -s h -l help -d 'Print help'
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s H -d 'NSCA server host (required)' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s p -d 'NSCA server port (default 5667)' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s d -d 'Field delimiter of the input (default tab)' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s c -d 'send_nsca.cfg with password and encryption_method' -r
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -l quiet -d 'Print nothing on success'
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s l -l license -d 'Print the license'
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s V -l version -d 'Print the version'
complete -c smokercli -n "__fish_smokercli_using_subcommand send-nsca" -s h -l help -d 'Print help'
