package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * {@link Json#write} and {@link Json#writePretty} stream trees without an ObjectMapper; what they
 * write must be exactly what a mapper writes, since scripts and tests compare the text.
 */
class JsonTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** A tree with every kind of node the commands write, nested and empty. */
    static ObjectNode everyKind() {
        ObjectNode o = Json.object();
        o.put("int", 42).put("negative", -7).put("long", 1L << 40).put("long_min", Long.MIN_VALUE);
        o.put("short", (short) 3).put("float", 1.5f).put("double", 0.1).put("whole_double", 2.0);
        o.put("nan", Double.NaN).put("inf", Double.POSITIVE_INFINITY).put("tiny", 1e-300);
        o.put("big_int", new BigInteger("123456789012345678901234567890"));
        o.put("big_dec", new BigDecimal("1.2300"));
        o.put("true", true).put("false", false).putNull("null");
        o.put("text", "a \"quoted\"\\ line\nwith\ttabs, é, \u0001 and \u2028");
        o.put("", "empty key");
        o.putObject("empty_object");
        o.putArray("empty_array");
        ArrayNode a = o.putArray("array");
        a.add(1).add("two").add(3.0).addNull().add(true);
        a.addObject().put("k", "v").putArray("inner").add(1).add(2);
        a.addArray().add(Json.object()).add(Json.array());
        o.putObject("nested").putObject("deeper").put("x", Json.hex(0xffff_8000_0000_0000L));
        return o;
    }

    @Test
    void prettyTreesAreWrittenExactlyAsTheMapperWritesThem() throws Exception {
        ObjectNode o = everyKind();
        assertEquals(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(o), Json.writePretty(o));
        assertEquals(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(Json.array()), Json.writePretty(Json.array()));
    }

    @Test
    void compactTreesAreWrittenExactlyAsTheMapperWritesThem() throws Exception {
        ObjectNode o = everyKind();
        assertEquals(MAPPER.writeValueAsString(o), Json.write(o));
        ArrayNode top = Json.array().add(o).add(7);
        assertEquals(MAPPER.writeValueAsString(top), Json.write(top));
    }

    /** A POJO or bytes inside a tree, and an object that is no tree at all: the same text as the mapper's. */
    @Test
    void otherObjectsGoThroughTheMapper() throws Exception {
        ObjectNode o = Json.object();
        o.putPOJO("pojo", Map.of("k", List.of(1, 2)));
        o.putPOJO("null_pojo", null);
        o.put("bytes", new byte[] {0, 1, 2, (byte) 0xff, 42});
        o.putObject("after").put("x", 1);
        assertEquals(MAPPER.writeValueAsString(o), Json.write(o));
        assertEquals(MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(o), Json.writePretty(o));
        assertEquals("{\"k\":[1,2]}", Json.write(Map.of("k", List.of(1, 2))));
        assertEquals("{\n  \"k\" : 1\n}", Json.writePretty(Map.of("k", 1)));
    }
}
