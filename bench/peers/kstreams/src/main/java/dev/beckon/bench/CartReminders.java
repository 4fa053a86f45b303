package dev.beckon.bench;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The abandoned-cart journey of Beckon's enginebench written by hand with
 * the Processor API, the way a Kafka Streams engineer would:
 *
 * <ul>
 * <li>Product Added opens the cart (keyed by user and cart_id) or adds the
 * SKU to it; Product Added and Product Removed change the items and reset
 * the hold, at most max.resets times;
 * <li>Order Completed or Checkout Started for the cart ends it, no reminder;
 * <li>a cart unchanged for hold.ms gets one reminder carrying its items.
 * </ul>
 *
 * State is two RocksDB stores with changelogs: carts (user\0cart to the cart)
 * and holds (due time, big endian, then user\0cart: the due-time index a
 * wall-clock punctuator scans every punctuate.ms). The reminder's value is
 * JSON shaped like Beckon's default send payload: {user_id, cart_id, event
 * (the opening event's properties), state: {items: [{key, value}]}}.
 */
final class CartReminders {
    private CartReminders() {}

    static final String CARTS = "carts";
    static final String HOLDS = "holds";

    static Topology topology(String input, String output, long holdMs, long punctuateMs, int maxResets) {
        Topology t = new Topology();
        t.addSource("events", Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), input);
        t.addProcessor("cart", () -> new Cart(holdMs, punctuateMs, maxResets), "events");
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(CARTS), Serdes.String(), Serdes.ByteArray()), "cart");
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(HOLDS), Serdes.Bytes(), Serdes.ByteArray()), "cart");
        t.addSink("reminders", output, Serdes.String().serializer(), Serdes.String().serializer(), "cart");
        return t;
    }

    /** A cart's state: its hold, resets, opening event and items. */
    static final class State {
        long due;
        int resets;
        String opened; // properties of the event that opened the cart
        final Map<String, String> items = new LinkedHashMap<>(); // sku -> properties, in order added

        byte[] encode() {
            try {
                ByteArrayOutputStream bo = new ByteArrayOutputStream(256);
                DataOutputStream o = new DataOutputStream(bo);
                o.writeLong(due);
                o.writeInt(resets);
                o.writeUTF(opened);
                o.writeInt(items.size());
                for (Map.Entry<String, String> e : items.entrySet()) {
                    o.writeUTF(e.getKey());
                    o.writeUTF(e.getValue());
                }
                return bo.toByteArray();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static State decode(byte[] b) {
            try {
                DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
                State s = new State();
                s.due = in.readLong();
                s.resets = in.readInt();
                s.opened = in.readUTF();
                for (int n = in.readInt(); n > 0; n--) {
                    s.items.put(in.readUTF(), in.readUTF());
                }
                return s;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static final class Cart implements Processor<String, byte[], String, String> {
        private final long holdMs, punctuateMs;
        private final int maxResets;
        private ProcessorContext<String, String> ctx;
        private KeyValueStore<String, byte[]> carts;
        private KeyValueStore<Bytes, byte[]> holds;
        private static final byte[] EMPTY = new byte[0];

        Cart(long holdMs, long punctuateMs, int maxResets) {
            this.holdMs = holdMs;
            this.punctuateMs = punctuateMs;
            this.maxResets = maxResets;
        }

        @Override
        public void init(ProcessorContext<String, String> ctx) {
            this.ctx = ctx;
            this.carts = ctx.getStateStore(CARTS);
            this.holds = ctx.getStateStore(HOLDS);
            ctx.schedule(Duration.ofMillis(punctuateMs), PunctuationType.WALL_CLOCK_TIME, this::remind);
        }

        @Override
        public void process(Record<String, byte[]> rec) {
            Events.Event ev;
            JsonNode props;
            try {
                ev = Events.decode(rec.value());
                props = Events.properties(ev.properties);
            } catch (IllegalArgumentException e) {
                // Beckon dead-letters such a record; here it is logged.
                System.err.println("kstreams cart: undecodable event with key " + rec.key() + ": " + e.getMessage());
                return;
            }
            if (ev.name == null || !ev.userId.equals(rec.key())) {
                return;
            }
            String cartId = props.path("cart_id").textValue();
            if (cartId == null) {
                return;
            }
            String key = ev.userId + "\u0000" + cartId;
            long now = ctx.currentSystemTimeMs();
            byte[] stored = carts.get(key);
            State s = stored == null ? null : State.decode(stored);
            switch (ev.name) {
                case "Product Added": {
                    String sku = props.path("sku").textValue();
                    if (s == null) {
                        s = new State();
                        s.opened = ev.properties;
                        s.due = now + holdMs;
                        holds.put(holdKey(s.due, key), EMPTY);
                    } else {
                        reset(s, key, now);
                    }
                    if (sku != null) {
                        s.items.put(sku, ev.properties);
                    }
                    carts.put(key, s.encode());
                    break;
                }
                case "Product Removed": {
                    if (s == null) {
                        return;
                    }
                    String sku = props.path("sku").textValue();
                    if (sku != null) {
                        s.items.remove(sku);
                    }
                    reset(s, key, now);
                    carts.put(key, s.encode());
                    break;
                }
                case "Order Completed":
                case "Checkout Started":
                    if (s != null) {
                        holds.delete(holdKey(s.due, key));
                        carts.delete(key);
                    }
                    break;
                default:
            }
        }

        /** Restarts the hold from now, unless it was reset max.resets times. */
        private void reset(State s, String key, long now) {
            if (s.resets >= maxResets) {
                return;
            }
            s.resets++;
            holds.delete(holdKey(s.due, key));
            s.due = now + holdMs;
            holds.put(holdKey(s.due, key), EMPTY);
        }

        /** Sends the reminder of every cart whose hold is over, and ends it. */
        private void remind(long now) {
            List<Bytes> due = new ArrayList<>();
            try (KeyValueIterator<Bytes, byte[]> it = holds.all()) {
                while (it.hasNext()) {
                    KeyValue<Bytes, byte[]> kv = it.next();
                    if (ByteBuffer.wrap(kv.key.get()).getLong() > now) {
                        break;
                    }
                    due.add(kv.key);
                }
            }
            for (Bytes hk : due) {
                holds.delete(hk);
                String key = new String(hk.get(), 8, hk.get().length - 8, StandardCharsets.UTF_8);
                byte[] stored = carts.get(key);
                if (stored == null) {
                    continue;
                }
                carts.delete(key);
                int sep = key.indexOf('\u0000');
                String user = key.substring(0, sep);
                ctx.forward(new Record<>(user, reminder(user, key.substring(sep + 1), State.decode(stored)), now));
            }
        }

        private static Bytes holdKey(long due, String key) {
            byte[] k = key.getBytes(StandardCharsets.UTF_8);
            return Bytes.wrap(ByteBuffer.allocate(8 + k.length).putLong(due).put(k).array());
        }

        private static String reminder(String user, String cart, State s) {
            StringBuilder b = new StringBuilder(256 + 200 * s.items.size());
            b.append("{\"user_id\":");
            Events.quote(b, user);
            b.append(",\"cart_id\":");
            Events.quote(b, cart);
            b.append(",\"event\":").append(s.opened).append(",\"state\":{\"items\":[");
            boolean first = true;
            for (Map.Entry<String, String> e : s.items.entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                b.append("{\"key\":");
                Events.quote(b, e.getKey());
                b.append(",\"value\":").append(e.getValue()).append('}');
            }
            return b.append("]}}").toString();
        }
    }
}
