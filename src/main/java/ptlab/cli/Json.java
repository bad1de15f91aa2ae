package ptlab.cli;

import java.io.IOException;
import java.io.StringWriter;
import java.util.Map;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.POJONode;

/**
 * Shared Jackson setup: snake_case keys are written explicitly; addresses as "0x…" strings.
 *
 * <p>Commands build their output as trees ({@link #object()}, {@link #array()}) and
 * {@link #write}/{@link #writePretty} stream a tree through jackson-core's generator, with the
 * pretty printer {@code ObjectMapper.writerWithDefaultPrettyPrinter()} uses, so the text is the
 * same as the mapper's ({@code JsonTest}). The {@link #mapper()} itself is made only by a command
 * that reads JSON or converts an object to a tree: constructing an {@code ObjectMapper} runs
 * through its configuration, date format and locale data, some 35 ms of a short command's
 * start-up here (issue 15: {@code trace replay --format json} of a small trace spent 40 ms after
 * its replay, most of it in the mapper's construction).
 */
public final class Json {
    private static final JsonFactory FACTORY = new JsonFactory();

    private Json() {
    }

    private static final class Mapper {
        static final ObjectMapper INSTANCE = new ObjectMapper();
    }

    /** The shared mapper, made on first use. */
    public static ObjectMapper mapper() {
        return Mapper.INSTANCE;
    }

    public static ObjectNode object() {
        return JsonNodeFactory.instance.objectNode();
    }

    public static ArrayNode array() {
        return JsonNodeFactory.instance.arrayNode();
    }

    public static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }

    /** {@code node} as compact JSON (a tree is streamed; any other object goes through the mapper). */
    public static String write(Object node) {
        return write(node, false);
    }

    /** {@code node} as JSON with the default pretty printer (as {@link #write}). */
    public static String writePretty(Object node) {
        return write(node, true);
    }

    private static String write(Object node, boolean pretty) {
        try {
            if (node instanceof JsonNode tree) {
                StringWriter out = new StringWriter();
                try (JsonGenerator g = FACTORY.createGenerator(out)) {
                    if (pretty) {
                        g.useDefaultPrettyPrinter();
                    }
                    writeTree(g, tree);
                }
                return out.toString();
            }
            ObjectMapper m = mapper();
            return pretty ? m.writerWithDefaultPrettyPrinter().writeValueAsString(node) : m.writeValueAsString(node);
        } catch (IOException e) {   // a StringWriter does not fail; an object the mapper cannot write does
            throw new IllegalStateException(e);
        }
    }

    /**
     * The tokens the node serializers of jackson-databind write for {@code n}; a POJO inside the
     * tree (rare: no command puts one there today) is written by the mapper into the same generator.
     */
    private static void writeTree(JsonGenerator g, JsonNode n) throws IOException {
        switch (n.getNodeType()) {
            case OBJECT -> {
                g.writeStartObject();
                for (Map.Entry<String, JsonNode> e : n.properties()) {
                    g.writeFieldName(e.getKey());
                    writeTree(g, e.getValue());
                }
                g.writeEndObject();
            }
            case ARRAY -> {
                g.writeStartArray();
                for (JsonNode child : n) {
                    writeTree(g, child);
                }
                g.writeEndArray();
            }
            case STRING -> g.writeString(n.textValue());
            case BOOLEAN -> g.writeBoolean(n.booleanValue());
            case NULL, MISSING -> g.writeNull();
            case NUMBER -> {
                switch (n.numberType()) {
                    case INT -> g.writeNumber(n.intValue());
                    case LONG -> g.writeNumber(n.longValue());
                    case FLOAT -> g.writeNumber(n.floatValue());
                    case DOUBLE -> g.writeNumber(n.doubleValue());
                    case BIG_INTEGER -> g.writeNumber(n.bigIntegerValue());
                    case BIG_DECIMAL -> g.writeNumber(n.decimalValue());
                }
            }
            case BINARY -> g.writeBinary(n.binaryValue());
            case POJO -> mapper().writeValue(g, ((POJONode) n).getPojo());
        }
    }
}
