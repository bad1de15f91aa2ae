package ptlab.cli;

/** {@code --format text|json}: every command that prints results takes it. */
public enum OutputFormat {
    text, json
}
