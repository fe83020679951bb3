package dev.tollgate.proxy.request;

import java.util.List;
import java.util.Objects;

import io.netty.handler.codec.http.HttpHeaders;

/**
 * One change of the request head a gate decided; the forwarder applies the edits of every allowing gate, in the order
 * of the enforcement walk and of each gate's list, once, when it writes the head upstream. Gates never change the
 * request themselves.
 */
public final class HeaderEdit {
    /** What an edit does. */
    public enum Kind {
        /** Replaces every value of the header with one value. */
        SET,
        /** Removes the header. */
        REMOVE,
        /** Removes the values of the header that contain a secret; its other values stay, in order. */
        REMOVE_VALUES_CONTAINING
    }

    private final Kind kind;
    private final CharSequence name;
    private final CharSequence value;

    private HeaderEdit(Kind kind, CharSequence name, CharSequence value) {
        this.kind = kind;
        this.name = Objects.requireNonNull(name, "name");
        this.value = value;
    }

    /**
     * Sets the header to one value. The name and value go into the head as given: an {@code AsciiString} made once
     * for a value set on many requests (an exchanged token) is checked and HPACK-hashed as bytes, and its hash is
     * computed once.
     */
    public static HeaderEdit set(CharSequence name, CharSequence value) {
        return new HeaderEdit(Kind.SET, name, Objects.requireNonNull(value, "value"));
    }

    public static HeaderEdit remove(CharSequence name) {
        return new HeaderEdit(Kind.REMOVE, name, null);
    }

    /** @param secret a credential: never printed by {@link #toString()} */
    public static HeaderEdit removeValuesContaining(CharSequence name, String secret) {
        if (secret == null || secret.isEmpty()) {
            throw new IllegalArgumentException("secret: empty (expected: the value to find)");
        }
        return new HeaderEdit(Kind.REMOVE_VALUES_CONTAINING, name, secret);
    }

    public Kind kind() {
        return kind;
    }

    public String name() {
        return name.toString();
    }

    /** The value set, or the secret whose values are removed; null for {@link Kind#REMOVE}. */
    public String value() {
        return value == null ? null : value.toString();
    }

    /** Applies this edit to the head's headers. */
    public void applyTo(HttpHeaders h) {
        switch (kind) {
            case SET -> h.set(name, value);
            case REMOVE -> h.remove(name);
            case REMOVE_VALUES_CONTAINING -> {
                List<String> values = h.getAll(name);
                if (values.isEmpty()) {
                    return;
                }
                h.remove(name);
                String secret = value.toString();
                for (String v : values) {
                    if (!v.contains(secret)) {
                        h.add(name, v);
                    }
                }
            }
        }
    }

    /** Applies the edits in order. */
    public static void applyAll(List<HeaderEdit> edits, HttpHeaders h) {
        for (int i = 0; i < edits.size(); i++) {
            edits.get(i).applyTo(h);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeaderEdit e && e.kind == kind && e.name().equalsIgnoreCase(name())
                && Objects.equals(e.value(), value());
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, name().toLowerCase(java.util.Locale.ROOT), value());
    }

    @Override
    public String toString() {
        return switch (kind) {
            case SET -> "set " + name; // the value may be a credential: never printed
            case REMOVE -> "remove " + name;
            case REMOVE_VALUES_CONTAINING -> "remove values of " + name + " carrying the credential";
        };
    }
}
