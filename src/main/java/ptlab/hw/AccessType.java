package ptlab.hw;

/** The kind of access a linear address is translated for (SDM vol. 3, 4.6). */
public enum AccessType {
    READ, WRITE, FETCH;

    public static AccessType fromName(String name) {
        return switch (name) {
            case "read", "r", "R" -> READ;
            case "write", "w", "W" -> WRITE;
            case "fetch", "x", "X" -> FETCH;
            default -> throw new IllegalArgumentException("unknown access '" + name + "' (expected read, write or fetch)");
        };
    }
}
