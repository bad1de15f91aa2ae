package ptlab.report;

/**
 * One plot of a study: {@code name} is its file name when written next to the data
 * ({@code vmalloc-latency.png}), {@code title} the caption, {@code png} the encoded image.
 */
public record Figure(String name, String title, byte[] png) {
}
