/* The OTLP/protobuf bytes of one lean span, written in C.
 *
 * put_lean(buf, fields, kinds) appends to the bytearray `buf` exactly what
 * runtime/_tracing_otlp.py's `_put_lean` appends for the span whose
 * `otlp_fields()` tuple is `fields` (a ScopeSpans' field 2: a `Span`), and
 * returns True. `kinds` is the SpanKind members in order of their value.
 *
 * put_run(buf, spans, start, resource, scope, kinds[, lean]) does the same for
 * spans[start:] while each span's `otlp_fields()` holds these resource and
 * scope objects and it writes the span, and returns the index it stopped at;
 * a span whose type is `lean` has its fields read from its instance dict (what
 * LeanSpan.otlp_fields returns) instead of a call and a tuple.
 *
 * put_lean returns False, with `buf` unchanged, for any span it does not write
 * itself: a trace state, events or links, an attribute value other than
 * str, bool, int (int64), float or a tuple of str, a key that is not a str,
 * ids or times out of range, a kind not in `kinds`. The Python encoder then
 * writes that span. Both raise TypeError when `buf` is not a bytearray or
 * `fields` not a tuple of at least 10 items, and what `otlp_fields()` raises.
 *
 * CPython C API only; no blocking; no calls into Python but `otlp_fields()`
 * (put_run, a span not of type `lean`) and the status' attributes (a span
 * whose status was set).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    unsigned char *data;
    Py_ssize_t len, cap;
    unsigned char stack[1024];
} Out;

static int out_reserve(Out *o, Py_ssize_t n) {
    if (o->len + n <= o->cap)
        return 0;
    Py_ssize_t cap = (o->len + n) * 2;
    unsigned char *data;
    if (o->data == o->stack) {
        data = PyMem_Malloc(cap);
        if (data != NULL)
            memcpy(data, o->stack, o->len);
    } else {
        data = PyMem_Realloc(o->data, cap);
    }
    if (data == NULL)
        return -1;
    o->data = data;
    o->cap = cap;
    return 0;
}

static inline void put_byte(Out *o, unsigned char b) { o->data[o->len++] = b; }

static inline int varint_size(unsigned long long n) {
    int size = 1;
    while (n > 127) {
        n >>= 7;
        size++;
    }
    return size;
}

static inline void put_varint(Out *o, unsigned long long n) {
    while (n > 127) {
        put_byte(o, (unsigned char)((n & 127) | 128));
        n >>= 7;
    }
    put_byte(o, (unsigned char)n);
}

static inline void put_be64(Out *o, unsigned long long n) {
    for (int shift = 56; shift >= 0; shift -= 8)
        put_byte(o, (unsigned char)(n >> shift));
}

static inline void put_le(Out *o, unsigned long long n, int bytes) {
    for (int i = 0; i < bytes; i++)
        put_byte(o, (unsigned char)(n >> (8 * i)));
}

/* A length-delimited field: tag, length, bytes (room reserved by the caller). */
static inline void put_field(Out *o, unsigned char tag, const char *s, Py_ssize_t n) {
    put_byte(o, tag);
    put_varint(o, (unsigned long long)n);
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static inline Py_ssize_t field_size(Py_ssize_t n) {
    return 1 + varint_size((unsigned long long)n) + n;
}

/* A KeyValue's span field 9 up to its value: the tag, its length, the key,
 * the value's tag and length; the room for the `any` bytes that follow too. */
static int put_kv_head(Out *o, const char *k, Py_ssize_t klen, Py_ssize_t any) {
    Py_ssize_t kv = field_size(klen) + field_size(any);
    if (out_reserve(o, field_size(kv)) < 0)
        return -1;
    put_byte(o, 0x4a);
    put_varint(o, (unsigned long long)kv);
    put_field(o, 0x0a, k, klen);
    put_byte(o, 0x12);
    put_varint(o, (unsigned long long)any);
    return 0;
}

/* One attribute as span field 9 (a KeyValue); 1 written, 0 not handled, -1 error. */
static int put_attribute(Out *o, PyObject *key, PyObject *value) {
    Py_ssize_t klen;
    const char *k;
    if (!PyUnicode_CheckExact(key) || (k = PyUnicode_AsUTF8AndSize(key, &klen)) == NULL)
        return 0;
    if (PyUnicode_CheckExact(value)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(value, &n);
        if (s == NULL)
            return 0;
        if (put_kv_head(o, k, klen, field_size(n)) < 0)
            return -1;
        put_field(o, 0x0a, s, n);
        return 1;
    }
    if (PyBool_Check(value) || PyLong_CheckExact(value) || PyFloat_CheckExact(value)) {
        unsigned char scalar[11];
        int n = 0;
        if (PyBool_Check(value)) {
            scalar[n++] = 0x10;
            scalar[n++] = value == Py_True;
        } else if (PyLong_CheckExact(value)) {
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
            if (overflow || (v == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                return 0;
            }
            unsigned long long u = (unsigned long long)v;
            scalar[n++] = 0x18;
            while (u > 127) {
                scalar[n++] = (unsigned char)((u & 127) | 128);
                u >>= 7;
            }
            scalar[n++] = (unsigned char)u;
        } else {
            scalar[n++] = 0x21;
            if (PyFloat_Pack8(PyFloat_AS_DOUBLE(value), (char *)scalar + n, 1) < 0) {
                PyErr_Clear();
                return 0;
            }
            n += 8;
        }
        if (put_kv_head(o, k, klen, n) < 0)
            return -1;
        memcpy(o->data + o->len, scalar, n);
        o->len += n;
        return 1;
    }
    if (PyTuple_CheckExact(value)) {
        Py_ssize_t count = PyTuple_GET_SIZE(value), array = 0;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *item = PyTuple_GET_ITEM(value, i);
            Py_ssize_t n;
            if (!PyUnicode_CheckExact(item) || PyUnicode_AsUTF8AndSize(item, &n) == NULL) {
                PyErr_Clear();
                return 0;
            }
            array += field_size(field_size(n));
        }
        if (put_kv_head(o, k, klen, field_size(array)) < 0)
            return -1;
        put_byte(o, 0x2a);
        put_varint(o, (unsigned long long)array);
        for (Py_ssize_t i = 0; i < count; i++) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(value, i), &n);
            put_byte(o, 0x0a);
            put_varint(o, (unsigned long long)field_size(n));
            put_field(o, 0x0a, s, n);
        }
        return 1;
    }
    return 0;
}

/* CPython 3.11's int layout (30-bit digits, the sign in ob_size), read in
 * place: the API's conversions go through _PyLong_AsByteArray (~200
 * instructions each, five a span). Other versions use the API. */
#if PY_VERSION_HEX < 0x030C0000 && PY_VERSION_HEX >= 0x030B0000 && \
    defined(__SIZEOF_INT128__) && PYLONG_BITS_IN_DIGIT == 30
#define DIGITS_IN_PLACE 1
/* A non-negative exact int below 2 ** bits (bits <= 128) into *out; 0 if not. */
static inline int digits_value(PyObject *v, int bits, unsigned __int128 *out) {
    Py_ssize_t size = Py_SIZE(v);
    if (size < 0 || size * 30 > bits + 29)
        return 0;
    const digit *d = ((PyLongObject *)v)->ob_digit;
    unsigned __int128 acc = 0;
    for (Py_ssize_t i = size - 1; i >= 0; i--)
        acc = (acc << 30) | d[i];
    if (size * 30 > bits && (d[size - 1] >> (bits - 30 * (size - 1))) != 0)
        return 0;
    *out = acc;
    return 1;
}
#endif

/* An unsigned 64-bit int (None is 0); 0 if not one. */
static int as_u64(PyObject *v, unsigned long long *out) {
    if (v == Py_None) {
        *out = 0;
        return 1;
    }
#ifdef DIGITS_IN_PLACE
    unsigned __int128 wide;
    if (PyLong_CheckExact(v) && digits_value(v, 64, &wide)) {
        *out = (unsigned long long)wide;
        return 1;
    }
#endif
    if (!PyLong_Check(v))
        return 0;
    *out = PyLong_AsUnsignedLongLong(v);
    if (*out == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* A trace id's high and low 64 bits; 1, 0 if not a 128-bit int, -1 error. */
static int as_u128(PyObject *v, unsigned long long *high, unsigned long long *low) {
#ifdef DIGITS_IN_PLACE
    unsigned __int128 wide;
    if (digits_value(v, 128, &wide)) {
        *high = (unsigned long long)(wide >> 64);
        *low = (unsigned long long)wide;
        return 1;
    }
#endif
    static PyObject *sixty_four = NULL;
    if (sixty_four == NULL && (sixty_four = PyLong_FromLong(64)) == NULL)
        return -1;
    PyObject *shifted = PyNumber_Rshift(v, sixty_four);
    if (shifted == NULL)
        return -1;
    int fits = as_u64(shifted, high);
    Py_DECREF(shifted);
    if (fits)
        *low = PyLong_AsUnsignedLongLongMask(v);
    return fits;
}

/* Whether `v` is false: a tuple's or list's size read, a trace state known to
 * be empty (immutable; the last one found so) compared; 1, 0, -1 error. */
static int is_false(PyObject *v) {
    static PyObject *empty_state = NULL;
    if (PyTuple_CheckExact(v))
        return PyTuple_GET_SIZE(v) == 0;
    if (PyList_CheckExact(v))
        return PyList_GET_SIZE(v) == 0;
    if (v == empty_state)
        return 1;
    int truth = PyObject_IsTrue(v);
    if (truth == 0 && strcmp(Py_TYPE(v)->tp_name, "TraceState") == 0)
        Py_XSETREF(empty_state, Py_NewRef(v));
    return truth < 0 ? -1 : !truth;
}

/* The status (field 15) from a Status object; 1 written, 0 not handled, -1 error. */
static int put_status(Out *o, PyObject *status) {
    PyObject *code_obj = PyObject_GetAttrString(status, "status_code");
    if (code_obj == NULL)
        goto not_handled;
    PyObject *value = PyObject_GetAttrString(code_obj, "value");
    Py_DECREF(code_obj);
    if (value == NULL)
        goto not_handled;
    long code = PyLong_Check(value) ? PyLong_AsLong(value) : -1;
    Py_DECREF(value);
    if (code < 0 || code > 127)
        goto not_handled;
    PyObject *description = PyObject_GetAttrString(status, "description");
    if (description == NULL)
        goto not_handled;
    const char *d = NULL;
    Py_ssize_t dlen = 0;
    if (PyUnicode_CheckExact(description)) {
        d = PyUnicode_AsUTF8AndSize(description, &dlen);
    } else if (description != Py_None) {
        Py_DECREF(description);
        goto not_handled;
    }
    if (d == NULL && description != Py_None) {
        Py_DECREF(description);
        goto not_handled;
    }
    Py_ssize_t size = (dlen ? field_size(dlen) : 0) + (code ? 2 : 0);
    if (out_reserve(o, field_size(size)) < 0) {
        Py_DECREF(description);
        return -1;
    }
    put_byte(o, 0x7a);
    put_varint(o, (unsigned long long)size);
    if (dlen)
        put_field(o, 0x12, d, dlen);
    Py_DECREF(description);  /* the UTF-8 copy lives in the str; copied above */
    if (code) {
        put_byte(o, 0x18);
        put_byte(o, (unsigned char)code);
    }
    return 1;
not_handled:
    PyErr_Clear();
    return 0;
}

/* The span's message into `o`: 1 written, 0 not handled, -1 error. */
static int put_span(Out *o, PyObject *const *fields, PyObject *kinds) {
    PyObject *ctx = fields[0], *parent = fields[1];
    PyObject *name = fields[2], *kind = fields[3];
    PyObject *attributes = fields[6];
    PyObject *events = fields[7], *links = fields[8];
    PyObject *status = fields[9];
    if (!PyTuple_Check(ctx) || PyTuple_GET_SIZE(ctx) < 5)
        return 0;
    if (parent != Py_None && (!PyTuple_Check(parent) || PyTuple_GET_SIZE(parent) < 3))
        return 0;
    if (is_false(PyTuple_GET_ITEM(ctx, 4)) != 1 || is_false(events) != 1 ||
        is_false(links) != 1) {  /* a trace state, events or links (or an error asking) */
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t kind_number = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kinds); i++)
        if (PyTuple_GET_ITEM(kinds, i) == kind)
            kind_number = i + 1;  /* INTERNAL (0) is written 1 */
    if (kind_number < 1 || kind_number > 127 || !PyUnicode_CheckExact(name))
        return 0;
    if (attributes != Py_None && !PyDict_CheckExact(attributes))
        return 0;
    /* the ids: trace_id's high and low 64 bits, span_id, the parent's */
    PyObject *trace_id = PyTuple_GET_ITEM(ctx, 0);
    unsigned long long high, low, span_id, parent_id = 0, start, end;
    if (!PyLong_CheckExact(trace_id))
        return 0;
    int fits = as_u128(trace_id, &high, &low);
    if (fits <= 0)
        return fits;
    if (!as_u64(PyTuple_GET_ITEM(ctx, 1), &span_id))
        return 0;
    if (parent != Py_None && !as_u64(PyTuple_GET_ITEM(parent, 1), &parent_id))
        return 0;
    if (!as_u64(fields[4], &start) || !as_u64(fields[5], &end))
        return 0;
    int remote = 0;
    if (parent != Py_None && (remote = PyObject_IsTrue(PyTuple_GET_ITEM(parent, 2))) < 0) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t nlen;
    const char *n = PyUnicode_AsUTF8AndSize(name, &nlen);
    if (n == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (out_reserve(o, 18 + 10 + 10 + field_size(nlen) + 2 + 18) < 0)
        return -1;
    put_byte(o, 0x0a);
    put_byte(o, 0x10);
    put_be64(o, high);
    put_be64(o, low);
    put_byte(o, 0x12);
    put_byte(o, 0x08);
    put_be64(o, span_id);
    if (parent != Py_None) {
        put_byte(o, 0x22);
        put_byte(o, 0x08);
        put_be64(o, parent_id);
    }
    put_field(o, 0x2a, n, nlen);
    put_byte(o, 0x30);
    put_byte(o, (unsigned char)kind_number);
    put_byte(o, 0x39);
    put_le(o, start, 8);
    put_byte(o, 0x41);
    put_le(o, end, 8);
    if (attributes != Py_None) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(attributes, &pos, &key, &value)) {
            int done = put_attribute(o, key, value);
            if (done <= 0) {
                if (done == 0)
                    PyErr_Clear();
                return done;
            }
        }
    }
    if (status == Py_None) {
        if (out_reserve(o, 2) < 0)
            return -1;
        put_byte(o, 0x7a);
        put_byte(o, 0x00);
    } else {
        int done = put_status(o, status);
        if (done <= 0)
            return done;
    }
    if (out_reserve(o, 6) < 0)
        return -1;
    put_byte(o, 0x85);
    put_byte(o, 0x01);
    put_le(o, remote ? 0x300 : 0x100, 4);
    return 1;
}

/* Append `fields`' span to `buf` (its tag and length first): 1, 0 or -1. */
static int append_span(PyObject *buf, PyObject *const *fields, PyObject *kinds) {
    Out o;
    o.data = o.stack;
    o.len = 0;
    o.cap = sizeof(o.stack);
    int done = put_span(&o, fields, kinds);
    if (done > 0) {
        Py_ssize_t at = PyByteArray_GET_SIZE(buf);
        Py_ssize_t head = 1 + varint_size((unsigned long long)o.len);
        Py_ssize_t need = at + head + o.len;
        /* bytearray grows by an eighth, a realloc (and copy) every few spans:
         * double it instead, then set the size (a shrink by under half is free) */
        int room = need < ((PyByteArrayObject *)buf)->ob_alloc ||
                   PyByteArray_Resize(buf, need > 2 * at ? need : 2 * at) == 0;
        if (room && PyByteArray_Resize(buf, need) == 0) {
            unsigned char *p = (unsigned char *)PyByteArray_AS_STRING(buf) + at;
            unsigned long long n = (unsigned long long)o.len;
            *p++ = 0x12;
            while (n > 127) {
                *p++ = (unsigned char)((n & 127) | 128);
                n >>= 7;
            }
            *p++ = (unsigned char)n;
            memcpy(p, o.data, o.len);
        } else {
            done = -1;
        }
    } else if (done == 0) {
        PyErr_Clear();
    } else if (!PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    if (o.data != o.stack)
        PyMem_Free(o.data);
    return done;
}

static int check_fields(PyObject *fields) {
    if (!PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) < 10) {
        PyErr_SetString(PyExc_TypeError, "fields must be a tuple of 10 or more");
        return -1;
    }
    return 0;
}

static PyObject *put_lean(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyByteArray_Check(args[0]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "put_lean(buf: bytearray, fields, kinds: tuple)");
        return NULL;
    }
    if (check_fields(args[1]) < 0)
        return NULL;
    int done = append_span(args[0], &PyTuple_GET_ITEM(args[1], 0), args[2]);
    if (done < 0)
        return NULL;
    return Py_NewRef(done ? Py_True : Py_False);
}

/* The names of a lean span's fields, in `otlp_fields()` order (interned). */
static const char *const FIELD_NAMES[12] = {
    "_context", "_parent", "_name", "_kind", "_start_time", "_end_time",
    "_attributes", "_events", "_links", "_status", "_resource", "_instrumentation_scope",
};
static PyObject *field_names[12];

/* A `lean` span's otlp_fields() read from its instance dict into `fields`
 * (borrowed; `*dict` holds them): a name not in the dict is the class
 * attribute, but `_status`, None when unset. 1 read, 0 not, -1 error. */
static int read_lean(PyObject *span, PyObject **dict, PyObject **fields) {
    if (field_names[0] == NULL)
        for (int f = 0; f < 12; f++)
            if ((field_names[f] = PyUnicode_InternFromString(FIELD_NAMES[f])) == NULL)
                return -1;
    *dict = PyObject_GenericGetDict(span, NULL);
    if (*dict == NULL || !PyDict_CheckExact(*dict)) {
        PyErr_Clear();
        return 0;
    }
    /* one pass over the dict, its (interned) keys matched by identity: a
     * dozen lookups cost four times as much. LeanSpans' dicts share their
     * key order, so what the key at each position was last time is tried
     * first (a field's index + 1, or 13: none); a miss is only slower, and
     * a field not found here is looked up below. */
    static signed char hint[16];
    for (int f = 0; f < 12; f++)
        fields[f] = NULL;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    for (int at = 0; PyDict_Next(*dict, &pos, &key, &value); at++) {
        int h = at < 16 ? hint[at] - 1 : -1;
        if (h >= 0 && h < 12 && key == field_names[h]) {
            fields[h] = value;
            continue;
        }
        if (h == 12)
            continue;
        int found = 12;
        for (int f = 0; f < 12; f++)
            if (key == field_names[f]) {
                fields[f] = value;
                found = f;
                break;
            }
        if (at < 16)
            hint[at] = (signed char)(found + 1);
    }
    for (int f = 0; f < 12; f++) {
        if (fields[f] == NULL) {  /* a key not interned, or not set */
            value = PyDict_GetItemWithError(*dict, field_names[f]);
            if (value == NULL && PyErr_Occurred())
                return -1;
            if (value == NULL)
                value = f == 9 ? Py_None : _PyType_Lookup(Py_TYPE(span), field_names[f]);
            if (value == NULL)
                return 0;
            fields[f] = value;
        }
    }
    return 1;
}

/* put_run(buf, spans, start, resource, scope, kinds[, lean]) -> the index reached:
 * spans[start], spans[start + 1], ... appended while each has `otlp_fields`
 * whose resource and scope are these objects and put_lean writes it. A span
 * whose type is `lean` (exactly) is read from its instance dict, not called. */
static PyObject *put_run(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    static PyObject *method = NULL;
    if ((nargs != 6 && nargs != 7) || !PyByteArray_Check(args[0]) || !PyLong_Check(args[2]) ||
        !PyTuple_Check(args[5]) || (nargs == 7 && !PyType_Check(args[6]))) {
        PyErr_SetString(PyExc_TypeError,
                        "put_run(buf: bytearray, spans, start: int, resource, scope, "
                        "kinds: tuple[, lean: type])");
        return NULL;
    }
    if (method == NULL && (method = PyUnicode_InternFromString("otlp_fields")) == NULL)
        return NULL;
    PyObject *spans = args[1], *resource = args[3], *scope = args[4];
    PyTypeObject *lean = nargs == 7 ? (PyTypeObject *)args[6] : NULL;
    Py_ssize_t i = PyLong_AsSsize_t(args[2]);
    if (i < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "start must be >= 0");
        return NULL;
    }
    if (!PyList_CheckExact(spans) && !PyTuple_CheckExact(spans))
        return PyLong_FromSsize_t(i);
    for (; i < PySequence_Fast_GET_SIZE(spans); i++) {
        PyObject *span = PySequence_Fast_GET_ITEM(spans, i);
        int done = 0;
        if (Py_TYPE(span) == lean) {
            PyObject *dict = NULL, *fields[12];
            Py_INCREF(span);
            int read = read_lean(span, &dict, fields);
            if (read > 0 && fields[10] == resource && fields[11] == scope)
                done = append_span(args[0], fields, args[5]);
            else if (read < 0)
                done = -1;
            Py_XDECREF(dict);
            Py_DECREF(span);
            if (done < 0)
                return NULL;
            if (!done)
                break;
            continue;
        }
        Py_INCREF(span);
        PyObject *fields = PyObject_GetAttr(span, method);
        Py_DECREF(span);
        if (fields == NULL) {
            PyErr_Clear();
            break;
        }
        Py_SETREF(fields, PyObject_CallNoArgs(fields));
        if (fields == NULL)
            return NULL;
        if (PyTuple_Check(fields) && PyTuple_GET_SIZE(fields) >= 12 &&
            PyTuple_GET_ITEM(fields, 10) == resource && PyTuple_GET_ITEM(fields, 11) == scope)
            done = append_span(args[0], &PyTuple_GET_ITEM(fields, 0), args[5]);
        Py_DECREF(fields);
        if (done < 0)
            return NULL;
        if (!done)
            break;
    }
    return PyLong_FromSsize_t(i);
}

static PyMethodDef methods[] = {
    {"put_lean", (PyCFunction)(void (*)(void))put_lean, METH_FASTCALL,
     "put_lean(buf, fields, kinds) -> bool: append a lean span's OTLP bytes to buf; "
     "False (buf unchanged) for a span the Python encoder must write."},
    {"put_run", (PyCFunction)(void (*)(void))put_run, METH_FASTCALL,
     "put_run(buf, spans, start, resource, scope, kinds[, lean]) -> int: append spans "
     "from start on while they share that resource and scope and put_lean writes them "
     "(a span of type lean read from its __dict__); the index of the first not written."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_otlp_native",
    "A lean span's OTLP/protobuf bytes, written in C (see _tracing_otlp.py).", 0, methods,
};

PyMODINIT_FUNC PyInit__otlp_native(void) { return PyModule_Create(&module_def); }
