# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_smokerd_global_optspecs
    string join \n c/config= conf-d= p/pidfile= foreground no-syslog no-console logging-conf= v/verbose d/debug h/help V/version
end

function __fish_smokerd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_smokerd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_smokerd_using_subcommand
    set -l cmd (__fish_smokerd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c smokerd -n "__fish_smokerd_needs_command" -s c -l config -d 'Main YAML config (default /etc/smokerd/smokerd.yaml, else the embedded default)' -r -F
complete -c smokerd -n "__fish_smokerd_needs_command" -l conf-d -d 'Read the template.d/action.d/plugin.d layout of DIR (plus common.yaml)' -r -F
complete -c smokerd -n "__fish_smokerd_needs_command" -s p -l pidfile -d 'Write the daemon\'s pid to FILE' -r -F
complete -c smokerd -n "__fish_smokerd_needs_command" -l logging-conf -d 'Accepted for compatibility (Python logging config), ignored' -r -F
complete -c smokerd -n "__fish_smokerd_needs_command" -l foreground -d 'Accepted for compatibility: smokerd always runs in the foreground'
complete -c smokerd -n "__fish_smokerd_needs_command" -l no-syslog -d 'Accepted for compatibility (logs go to stderr)'
complete -c smokerd -n "__fish_smokerd_needs_command" -l no-console -d 'Accepted for compatibility'
complete -c smokerd -n "__fish_smokerd_needs_command" -s v -l verbose -d 'Log at INFO level'
complete -c smokerd -n "__fish_smokerd_needs_command" -s d -l debug -d 'Log at DEBUG level'
complete -c smokerd -n "__fish_smokerd_needs_command" -s h -l help -d 'Print help'
complete -c smokerd -n "__fish_smokerd_needs_command" -s V -l version -d 'Print version'
complete -c smokerd -n "__fish_smokerd_needs_command" -f -a "run" -d 'Run the daemon in the foreground (the default)'
complete -c smokerd -n "__fish_smokerd_needs_command" -f -a "check-config" -d 'Validate the configuration and print a summary; exit 2 on errors'
complete -c smokerd -n "__fish_smokerd_needs_command" -f -a "print-default-config" -d 'Print the embedded default configuration'
complete -c smokerd -n "__fish_smokerd_needs_command" -f -a "import-nrpe" -d 'Print the smokerd.yaml that replaces an nrpe daemon reading FILE'
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -s c -l config -d 'Main YAML config (default /etc/smokerd/smokerd.yaml, else the embedded default)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -l conf-d -d 'Read the template.d/action.d/plugin.d layout of DIR (plus common.yaml)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -s p -l pidfile -d 'Write the daemon\'s pid to FILE' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -l logging-conf -d 'Accepted for compatibility (Python logging config), ignored' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -l foreground -d 'Accepted for compatibility: smokerd always runs in the foreground'
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -l no-syslog -d 'Accepted for compatibility (logs go to stderr)'
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -l no-console -d 'Accepted for compatibility'
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -s v -l verbose -d 'Log at INFO level'
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -s d -l debug -d 'Log at DEBUG level'
complete -c smokerd -n "__fish_smokerd_using_subcommand run" -s h -l help -d 'Print help'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -s c -l config -d 'Main YAML config (default /etc/smokerd/smokerd.yaml, else the embedded default)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -l conf-d -d 'Read the template.d/action.d/plugin.d layout of DIR (plus common.yaml)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -s p -l pidfile -d 'Write the daemon\'s pid to FILE' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -l logging-conf -d 'Accepted for compatibility (Python logging config), ignored' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -l strict -d 'Treat warnings (typos, ignored keys) as errors: exit 2 when there is any'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -l foreground -d 'Accepted for compatibility: smokerd always runs in the foreground'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -l no-syslog -d 'Accepted for compatibility (logs go to stderr)'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -l no-console -d 'Accepted for compatibility'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -s v -l verbose -d 'Log at INFO level'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -s d -l debug -d 'Log at DEBUG level'
complete -c smokerd -n "__fish_smokerd_using_subcommand check-config" -s h -l help -d 'Print help'
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -s c -l config -d 'Main YAML config (default /etc/smokerd/smokerd.yaml, else the embedded default)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -l conf-d -d 'Read the template.d/action.d/plugin.d layout of DIR (plus common.yaml)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -s p -l pidfile -d 'Write the daemon\'s pid to FILE' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -l logging-conf -d 'Accepted for compatibility (Python logging config), ignored' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -l foreground -d 'Accepted for compatibility: smokerd always runs in the foreground'
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -l no-syslog -d 'Accepted for compatibility (logs go to stderr)'
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -l no-console -d 'Accepted for compatibility'
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -s v -l verbose -d 'Log at INFO level'
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -s d -l debug -d 'Log at DEBUG level'
complete -c smokerd -n "__fish_smokerd_using_subcommand print-default-config" -s h -l help -d 'Print help'
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -s c -l config -d 'Main YAML config (default /etc/smokerd/smokerd.yaml, else the embedded default)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -l conf-d -d 'Read the template.d/action.d/plugin.d layout of DIR (plus common.yaml)' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -s p -l pidfile -d 'Write the daemon\'s pid to FILE' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -l logging-conf -d 'Accepted for compatibility (Python logging config), ignored' -r -F
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -l foreground -d 'Accepted for compatibility: smokerd always runs in the foreground'
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -l no-syslog -d 'Accepted for compatibility (logs go to stderr)'
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -l no-console -d 'Accepted for compatibility'
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -s v -l verbose -d 'Log at INFO level'
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -s d -l debug -d 'Log at DEBUG level'
complete -c smokerd -n "__fish_smokerd_using_subcommand import-nrpe" -s h -l help -d 'Print help'
