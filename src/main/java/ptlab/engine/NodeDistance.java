package ptlab.engine;

import java.util.Arrays;

/**
 * NUMA node distances as ACPI's System Locality Information Table (SLIT) gives them to Linux
 * ({@code node_distance()}, {@code numactl --hardware}): 10 means local, and a memory access from
 * a CPU on node i to a frame on node j costs {@code distance[i][j] / 10} times a local one in
 * timed mode. The default, local 10 and remote 21, is what two-socket Intel Xeon servers report
 * in their SLIT (and {@code numactl -H} prints); it is a relative latency, so a remote walk
 * reference costs 2.1 local ones. Immutable.
 */
public final class NodeDistance {

    /** The SLIT value of a node to itself (ACPI 6.5, 5.2.17: "the relative distance ... is normalized to 10"). */
    public static final int LOCAL = 10;
    /** The default remote distance (two-socket Xeon SLIT). */
    public static final int DEFAULT_REMOTE = 21;

    private final int[][] d;

    private NodeDistance(int[][] d) {
        this.d = d;
    }

    /** {@code nodes} nodes, every pair at distance {@code remote}, each node {@link #LOCAL} to itself. */
    public static NodeDistance uniform(int nodes, int remote) {
        if (nodes < 1 || nodes > 64) {
            throw new IllegalArgumentException("NUMA node count must be 1..64, got " + nodes);
        }
        if (remote < LOCAL) {
            throw new IllegalArgumentException("remote node distance must be at least " + LOCAL + ", got " + remote);
        }
        int[][] d = new int[nodes][nodes];
        for (int i = 0; i < nodes; i++) {
            Arrays.fill(d[i], remote);
            d[i][i] = LOCAL;
        }
        return new NodeDistance(d);
    }

    /** The default table: {@link #DEFAULT_REMOTE} between different nodes. */
    public static NodeDistance defaults(int nodes) {
        return uniform(nodes, DEFAULT_REMOTE);
    }

    public int nodes() {
        return d.length;
    }

    /** node_distance(from, to). */
    public int distance(int from, int to) {
        return d[from][to];
    }

    /** The remote/local ratio between two different nodes (1 with one node). */
    public double remoteRatio() {
        return d.length < 2 ? 1.0 : d[0][1] / (double) LOCAL;
    }
}
