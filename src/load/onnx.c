/* ONNX loader: translates a serialized ModelProto into the internal graph.
 *
 * What it does: decodes the protobuf (protobuf-c, our own schema in onnx.proto), converts
 * initializers and Constant nodes to float32 / int64 constants (including FLOAT16, DOUBLE and
 * small integer types, and external data files next to the model), declares the graph inputs
 * (dynamic dims = -1) and outputs, and maps every node of the default domain, opsets 7..20, to one
 * internal op with its parameter struct (Concat beyond 8 inputs and Max/Min beyond 2 become
 * chains; Split, Expand and InstanceNormalization become a few internal nodes; 1-D Conv,
 * ConvTranspose and pools run as their 2-D form with H = 1 between Unsqueeze/Squeeze helpers),
 * resolving the attribute-vs-input differences between opsets.  Inputs that carry data
 * (Reshape's shape, Resize's scales, ...) stay node inputs: the session folds them.  Only Clip's
 * min/max must be constants here, because the activation op takes them as parameters.
 *
 * What it does not do: run shape inference, fold shape arithmetic, check kernel-specific shape
 * rules, or accept subgraphs (If/Loop/Scan), sparse tensors, non-default domains (custom ops,
 * ai.onnx.ml) or training-mode nodes.  Those are reported as SEGCAM_E_UNSUPPORTED naming the file
 * and the node.  Operator facts: ONNX Operators.md / Changelog.md; see docs FORMATS §5. */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "load/load.h"
#include "onnx.pb-c.h"
#include "ops/ops.h"

#define OPSET_MIN 7
#define OPSET_MAX 20
/* Any tensor (constant or declared input) above this many elements is refused. */
#define MAX_ELEMS ((int64_t)1 << 31)
/* Bound on kernel sizes, strides, dilations and pads, so that (k-1)*d + 1 + pads fits an int. */
#define MAX_WINDOW 32768
/* max_in of the variadic ops (Concat, Max, Min); beyond SC_MAX_IO inputs they become chains. */
#define MANY INT_MAX

/* TensorProto.DataType [onnx.proto] */
enum {
  DT_FLOAT = 1,
  DT_UINT8 = 2,
  DT_INT8 = 3,
  DT_UINT16 = 4,
  DT_INT16 = 5,
  DT_INT32 = 6,
  DT_INT64 = 7,
  DT_STRING = 8,
  DT_BOOL = 9,
  DT_FLOAT16 = 10,
  DT_DOUBLE = 11,
  DT_UINT32 = 12,
  DT_UINT64 = 13,
  DT_BFLOAT16 = 16
};
/* AttributeProto.AttributeType */
enum {
  AT_FLOAT = 1,
  AT_INT = 2,
  AT_STRING = 3,
  AT_TENSOR = 4,
  AT_GRAPH = 5,
  AT_FLOATS = 6,
  AT_INTS = 7,
  AT_STRINGS = 8,
  AT_TENSORS = 9
};

#define STR(s) ((s) ? (s) : "")

/* ---- string -> int hash map (value names) ------------------------------------------------ */

typedef struct strmap {
  const char **key; /* borrowed: graph value names or strings of the decoded model */
  int *val;
  size_t cap, n;
} strmap;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static int strmap_get(const strmap *m, const char *k) {
  if (!m->cap) return -1;
  for (size_t i = hash_str(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->key[i]) return -1;
    if (strcmp(m->key[i], k) == 0) return m->val[i];
  }
}

/* Inserts or overwrites; SEGCAM_E_NOMEM on allocation failure. */
static segcam_status strmap_put(strmap *m, const char *k, int v) {
  if (2 * (m->n + 1) > m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 256;
    strmap nm = {sc_calloc_n(cap, sizeof *nm.key), sc_calloc_n(cap, sizeof *nm.val), cap, 0};
    if (!nm.key || !nm.val) {
      free(nm.key);
      free(nm.val);
      return SEGCAM_E_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->key[i]) strmap_put(&nm, m->key[i], m->val[i]); /* cannot grow: cap is ample */
    free(m->key);
    free(m->val);
    *m = nm;
  }
  size_t i = hash_str(k) & (m->cap - 1);
  while (m->key[i] && strcmp(m->key[i], k) != 0) i = (i + 1) & (m->cap - 1);
  if (!m->key[i]) m->n++;
  m->key[i] = k;
  m->val[i] = v;
  return SEGCAM_OK;
}

static void strmap_free(strmap *m) {
  free(m->key);
  free(m->val);
  memset(m, 0, sizeof *m);
}

/* ---- loader state and messages ------------------------------------------------------------ */

typedef struct ox {
  sc_graph *g;
  const char *path;
  int opset;
  strmap vals;               /* ONNX value name -> value index */
  strmap used;               /* names read by a node or listed as graph outputs */
  const Onnx__NodeProto *np; /* the node being translated (NULL outside nodes) */
  const char *label;         /* its user-visible name */
  char label_buf[32];
} ox;

/* "<file>: node '<name>' (<type>): <message>" */
static segcam_status node_err(const ox *x, segcam_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static segcam_status node_err(const ox *x, segcam_status st, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sc_error(st, "%s: node '%s' (%s): %s", x->path, x->label, STR(x->np->op_type), msg);
}

/* ---- attributes --------------------------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const ox *x, const char *name) {
  for (size_t i = 0; i < x->np->n_attribute; i++)
    if (strcmp(STR(x->np->attribute[i]->name), name) == 0) return x->np->attribute[i];
  return NULL;
}

/* The attribute's type; files written before IR 3 may omit it, so infer it from the field set. */
static int attr_type(const Onnx__AttributeProto *a) {
  if (a->has_type) return a->type;
  if (a->has_f) return AT_FLOAT;
  if (a->has_i) return AT_INT;
  if (a->has_s) return AT_STRING;
  if (a->t) return AT_TENSOR;
  if (a->has_g) return AT_GRAPH;
  if (a->n_floats) return AT_FLOATS;
  if (a->n_ints) return AT_INTS;
  if (a->n_strings) return AT_STRINGS;
  if (a->n_tensors) return AT_TENSORS;
  return 0;
}

static const char *attr_type_name(int t) {
  static const char *names[] = {"UNDEFINED", "FLOAT",  "INT",  "STRING",  "TENSOR",
                                "GRAPH",     "FLOATS", "INTS", "STRINGS", "TENSORS"};
  return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "?";
}

/* Finds attribute `name` and checks its type; *a = NULL when absent. */
static segcam_status attr_of(const ox *x, const char *name, int type,
                             const Onnx__AttributeProto **a) {
  *a = attr(x, name);
  if (*a && attr_type(*a) != type)
    return node_err(x, SEGCAM_E_FORMAT, "attribute '%s' has type %s, expected %s", name,
                    attr_type_name(attr_type(*a)), attr_type_name(type));
  if (*a && type == AT_TENSOR && !(*a)->t)
    return node_err(x, SEGCAM_E_FORMAT, "attribute '%s' holds no tensor", name);
  return SEGCAM_OK;
}

static segcam_status get_int(const ox *x, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, name, AT_INT, &a));
  *out = a ? a->i : def;
  return SEGCAM_OK;
}

/* An int attribute that must lie in [lo, hi]. */
static segcam_status get_int_in(const ox *x, const char *name, int64_t def, int64_t lo, int64_t hi,
                                int *out) {
  int64_t v = 0;
  SC_TRY(get_int(x, name, def, &v));
  if (v < lo || v > hi)
    return node_err(x, SEGCAM_E_FORMAT,
                    "attribute '%s' = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", name,
                    v, lo, hi);
  *out = (int)v;
  return SEGCAM_OK;
}

static segcam_status get_float(const ox *x, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, name, AT_FLOAT, &a));
  *out = a ? a->f : def;
  if (!isfinite(*out))
    return node_err(x, SEGCAM_E_FORMAT, "attribute '%s' is not a finite number", name);
  return SEGCAM_OK;
}

/* A string attribute copied into buf (NUL-terminated). */
static segcam_status get_str(const ox *x, const char *name, const char *def, char *buf,
                             size_t size) {
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, name, AT_STRING, &a));
  if (!a) {
    snprintf(buf, size, "%s", def);
    return SEGCAM_OK;
  }
  if (a->s.len >= size || (a->s.len && memchr(a->s.data, 0, a->s.len)))
    return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported value of attribute '%s'", name);
  if (a->s.len) memcpy(buf, a->s.data, a->s.len);
  buf[a->s.len] = '\0';
  return SEGCAM_OK;
}

/* An INTS attribute of at most `max` values; *n = -1 when absent. */
static segcam_status get_ints(const ox *x, const char *name, int64_t *out, int max, int *n) {
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, name, AT_INTS, &a));
  *n = -1;
  if (!a) return SEGCAM_OK;
  if (a->n_ints > (size_t)max)
    return node_err(x, SEGCAM_E_UNSUPPORTED, "attribute '%s' has %zu values (at most %d)", name,
                    a->n_ints, max);
  *n = (int)a->n_ints;
  for (int i = 0; i < *n; i++) out[i] = a->ints[i];
  return SEGCAM_OK;
}

/* An INTS attribute that must have exactly `count` values in [lo, hi]; absent = keep `out`. */
static segcam_status get_ints_exact(const ox *x, const char *name, int count, int64_t lo,
                                    int64_t hi, int *out) {
  int64_t v[2 * SEGCAM_MAX_DIMS];
  int n;
  SC_TRY(get_ints(x, name, v, 2 * SEGCAM_MAX_DIMS, &n));
  if (n < 0) return SEGCAM_OK;
  if (n != count)
    return node_err(x, SEGCAM_E_FORMAT, "attribute '%s' has %d values, expected %d", name, n,
                    count);
  for (int i = 0; i < n; i++) {
    if (v[i] < lo || v[i] > hi)
      return node_err(x, SEGCAM_E_FORMAT,
                      "attribute '%s'[%d] = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
                      name, i, v[i], lo, hi);
    out[i] = (int)v[i];
  }
  return SEGCAM_OK;
}

static segcam_status get_floats(const ox *x, const char *name, float *out, int max, int *n) {
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, name, AT_FLOATS, &a));
  *n = -1;
  if (!a) return SEGCAM_OK;
  if (a->n_floats > (size_t)max)
    return node_err(x, SEGCAM_E_UNSUPPORTED, "attribute '%s' has %zu values (at most %d)", name,
                    a->n_floats, max);
  *n = (int)a->n_floats;
  for (int i = 0; i < *n; i++) {
    if (!isfinite(a->floats[i]))
      return node_err(x, SEGCAM_E_FORMAT, "attribute '%s'[%d] is not a finite number", name, i);
    out[i] = a->floats[i];
  }
  return SEGCAM_OK;
}

/* ---- tensors ------------------------------------------------------------------------------ */

static float half_to_float(uint16_t h) {
  /* IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
  int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v;
  if (e == 0)
    v = ldexpf((float)m, -24); /* zero or subnormal: m * 2^-14 * 2^-10 */
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = ldexpf((float)(m | 0x400), e - 25);
  return sign ? -v : v;
}

static float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint64_t get_le(const uint8_t *p, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

typedef struct dtype_info {
  int onnx;
  const char *name;
  int size;    /* bytes per element in raw_data */
  sc_dtype to; /* SC_F32 or SC_I64 */
} dtype_info;

static const dtype_info dtypes[] = {
    {DT_FLOAT, "FLOAT", 4, SC_F32},     {DT_DOUBLE, "DOUBLE", 8, SC_F32},
    {DT_FLOAT16, "FLOAT16", 2, SC_F32}, {DT_BFLOAT16, "BFLOAT16", 2, SC_F32},
    {DT_INT64, "INT64", 8, SC_I64},     {DT_INT32, "INT32", 4, SC_I64},
    {DT_INT16, "INT16", 2, SC_I64},     {DT_INT8, "INT8", 1, SC_I64},
    {DT_UINT64, "UINT64", 8, SC_I64},   {DT_UINT32, "UINT32", 4, SC_I64},
    {DT_UINT16, "UINT16", 2, SC_I64},   {DT_UINT8, "UINT8", 1, SC_I64},
    {DT_BOOL, "BOOL", 1, SC_I64},
};

static const dtype_info *find_dtype(int t) {
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (dtypes[i].onnx == t) return &dtypes[i];
  return NULL;
}

static const char *onnx_type_name(int t) {
  const dtype_info *d = find_dtype(t);
  if (d) return d->name;
  switch (t) {
  case 0: return "UNDEFINED";
  case DT_STRING: return "STRING";
  case 14: return "COMPLEX64";
  case 15: return "COMPLEX128";
  default: return "an unknown type";
  }
}

/* Decodes n fixed-width little-endian elements to float32 (floating types) or int64. */
static void decode_raw(const dtype_info *d, const uint8_t *p, int64_t n, void *out) {
  float *f = out;
  int64_t *q = out;
  for (int64_t i = 0; i < n; i++, p += d->size) {
    uint64_t u = get_le(p, d->size);
    switch (d->onnx) {
    case DT_FLOAT: f[i] = bits_to_float((uint32_t)u); break;
    case DT_DOUBLE: {
      double v;
      memcpy(&v, &u, sizeof v);
      f[i] = (float)v;
      break;
    }
    case DT_FLOAT16: f[i] = half_to_float((uint16_t)u); break;
    case DT_BFLOAT16: f[i] = bits_to_float((uint32_t)u << 16); break; /* the top half of f32 */
    case DT_INT32: q[i] = (int32_t)(uint32_t)u; break;
    case DT_INT16: q[i] = (int16_t)(uint16_t)u; break;
    case DT_INT8: q[i] = (int8_t)(uint8_t)u; break;
    case DT_BOOL: q[i] = u != 0; break;
    default: q[i] = (int64_t)u; break; /* INT64, unsigned types */
    }
  }
}

/* Parses a decimal external-data field ("offset", "length"). */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!*s) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return 0;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 1;
}

/* A location must be a relative path that stays inside the model's directory: no absolute
 * paths, drive letters or '..' components (a model file must not make segcam read arbitrary
 * files). [onnx IR.md "External Tensor Data": location is relative to the model file] */
static int safe_location(const char *loc) {
  if (!*loc || loc[0] == '/' || loc[0] == '\\') return 0;
  if (((loc[0] | 0x20) >= 'a' && (loc[0] | 0x20) <= 'z') && loc[1] == ':') return 0;
  for (const char *c = loc; *c;) {
    size_t len = strcspn(c, "/\\");
    if (len == 2 && c[0] == '.' && c[1] == '.') return 0;
    c += len;
    if (*c) c++;
  }
  return 1;
}

/* Reads `nbytes` of external data described by t->external_data. `what` names the tensor. */
static segcam_status read_external(const ox *x, const Onnx__TensorProto *t, const char *what,
                                   size_t nbytes, uint8_t **out) {
  const char *loc = NULL;
  uint64_t off = 0, len = nbytes;
  int has_len = 0;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const char *k = STR(t->external_data[i]->key), *v = STR(t->external_data[i]->value);
    if (strcmp(k, "location") == 0)
      loc = v;
    else if (strcmp(k, "offset") == 0 && !parse_u64(v, &off))
      return sc_error(SEGCAM_E_FORMAT, "%s: %s: bad external data offset '%s'", x->path, what, v);
    else if (strcmp(k, "length") == 0 && !(has_len = parse_u64(v, &len)))
      return sc_error(SEGCAM_E_FORMAT, "%s: %s: bad external data length '%s'", x->path, what, v);
  }
  if (!loc)
    return sc_error(SEGCAM_E_FORMAT, "%s: %s: external data without a location", x->path, what);
  if (!safe_location(loc))
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: %s: external data location '%s' is not a relative path inside the "
                    "model's directory",
                    x->path, what, loc);
  if (has_len && len != nbytes)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: %s: external data length %" PRIu64
                    " does not match its shape and type (%zu bytes)",
                    x->path, what, len, nbytes);
  const char *slash = strrchr(x->path, '/');
  size_t dlen = slash ? (size_t)(slash - x->path) + 1 : 0;
  char *full = sc_malloc(dlen + strlen(loc) + 1);
  if (!full) return SEGCAM_E_NOMEM;
  memcpy(full, x->path, dlen);
  strcpy(full + dlen, loc);
  segcam_status st = SEGCAM_OK;
  FILE *f = fopen(full, "rb");
  struct stat sb;
  if (!f) {
    st = sc_error(SEGCAM_E_IO, "%s: %s: cannot open external data file '%s'", x->path, what, full);
  } else if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = sc_error(SEGCAM_E_IO, "%s: %s: external data '%s' is not a regular file", x->path, what,
                  full);
  } else if (off > (uint64_t)sb.st_size || nbytes > (uint64_t)sb.st_size - off) {
    st = sc_error(SEGCAM_E_FORMAT,
                  "%s: %s: external data [%" PRIu64 ", +%zu) lies beyond the "
                  "end of '%s' (%lld bytes)",
                  x->path, what, off, nbytes, full, (long long)sb.st_size);
  } else if (!(*out = sc_malloc(nbytes))) {
    st = SEGCAM_E_NOMEM;
  } else if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(*out, 1, nbytes, f) != nbytes) {
    free(*out);
    *out = NULL;
    st = sc_error(SEGCAM_E_IO, "%s: %s: read error in external data '%s'", x->path, what, full);
  }
  if (f) fclose(f);
  free(full);
  return st;
}

/* Converts a TensorProto to a float32 / int64 array. `what` names it in messages
 * ("initializer 'w'", "node 'c' (Constant): attribute 'value'"). */
static segcam_status read_tensor(const ox *x, const Onnx__TensorProto *t, const char *what,
                                 sc_dtype *dtype, sc_shape *shape, void **data) {
  *data = NULL;
  if (t->n_dims > SEGCAM_MAX_DIMS)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: %s: %zu dimensions (at most %d)", x->path, what,
                    t->n_dims, SEGCAM_MAX_DIMS);
  shape->ndim = (int)t->n_dims;
  int64_t count = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    int64_t d = t->dims[i];
    if (d < 0)
      return sc_error(SEGCAM_E_FORMAT, "%s: %s: negative dimension %" PRId64, x->path, what, d);
    if (d > 0 && count > MAX_ELEMS / d)
      return sc_error(SEGCAM_E_FORMAT, "%s: %s: more than 2^31 elements", x->path, what);
    count *= d;
    shape->d[i] = d;
  }
  int type = t->has_data_type ? t->data_type : 0;
  const dtype_info *d = find_dtype(type);
  if (!d)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: %s: data type %d (%s) is not supported", x->path,
                    what, type, onnx_type_name(type));
  *dtype = d->to;
  size_t n = (size_t)count, nbytes = n * (size_t)d->size;
  char sbuf[160];
  /* Where the data is, checked against the shape before anything is allocated. */
  const uint8_t *raw = NULL;
  uint8_t *ext = NULL;
  if (t->has_data_location && t->data_location == 1) {
    SC_TRY(read_external(x, t, what, nbytes, &ext));
    raw = ext;
  } else if (t->has_raw_data) {
    if (t->raw_data.len != nbytes)
      return sc_error(SEGCAM_E_FORMAT, "%s: %s: raw_data has %zu bytes, shape %s of %s needs %zu",
                      x->path, what, t->raw_data.len, sc_shape_str(shape, sbuf, sizeof sbuf),
                      d->name, nbytes);
    raw = t->raw_data.data;
  } else {
    /* Typed fields: FLOAT -> float_data, DOUBLE -> double_data, INT64 -> int64_data, unsigned
     * 32/64-bit -> uint64_data, everything narrower (incl. FLOAT16 bits) -> int32_data. */
    size_t have = d->onnx == DT_FLOAT                            ? t->n_float_data
                  : d->onnx == DT_DOUBLE                         ? t->n_double_data
                  : d->onnx == DT_INT64                          ? t->n_int64_data
                  : d->onnx == DT_UINT32 || d->onnx == DT_UINT64 ? t->n_uint64_data
                                                                 : t->n_int32_data;
    if (have != n)
      return sc_error(SEGCAM_E_FORMAT, "%s: %s: %zu values for shape %s (%zu elements)", x->path,
                      what, have, sc_shape_str(shape, sbuf, sizeof sbuf), n);
  }
  void *out = sc_calloc_n(n ? n : 1, d->to == SC_F32 ? sizeof(float) : sizeof(int64_t));
  if (!out) {
    free(ext);
    return SEGCAM_E_NOMEM;
  }
  float *f = out;
  int64_t *q = out;
  if (raw) {
    decode_raw(d, raw, count, out);
  } else {
    for (size_t i = 0; i < n; i++) {
      switch (d->onnx) {
      case DT_FLOAT: f[i] = t->float_data[i]; break;
      case DT_DOUBLE: f[i] = (float)t->double_data[i]; break;
      case DT_INT64: q[i] = t->int64_data[i]; break;
      case DT_UINT32:
      case DT_UINT64: q[i] = (int64_t)t->uint64_data[i]; break;
      case DT_FLOAT16: f[i] = half_to_float((uint16_t)t->int32_data[i]); break;
      case DT_BFLOAT16: f[i] = bits_to_float((uint32_t)t->int32_data[i] << 16); break;
      case DT_BOOL: q[i] = t->int32_data[i] != 0; break;
      default: q[i] = t->int32_data[i]; break;
      }
    }
  }
  free(ext);
  *data = out;
  return SEGCAM_OK;
}

/* ---- graph values ------------------------------------------------------------------------- */

/* Adds a named value (constant when data != NULL) and indexes it by name. */
static segcam_status add_named(ox *x, const char *name, sc_dtype dtype, const sc_shape *shape,
                               void *data, int *index) {
  int v = data ? sc_graph_add_const(x->g, name, dtype, shape, data)
               : sc_graph_add_value(x->g, name, dtype, shape);
  if (v < 0) return SEGCAM_E_NOMEM;
  SC_TRY(strmap_put(&x->vals, x->g->values[v].name, v));
  if (index) *index = v;
  return SEGCAM_OK;
}

static const sc_value *const_value(const ox *x, int v) {
  return v >= 0 && x->g->values[v].cdata ? &x->g->values[v] : NULL;
}

/* Reads the constant value `v` (a node input called `what`) as floats, at most `max`. */
static segcam_status const_floats(const ox *x, int v, const char *what, float *out, int max,
                                  int *n) {
  const sc_value *c = const_value(x, v);
  if (!c) return node_err(x, SEGCAM_E_UNSUPPORTED, "input '%s' must be a constant", what);
  int64_t count = sc_shape_numel(&c->shape);
  if (count > max)
    return node_err(x, SEGCAM_E_UNSUPPORTED, "input '%s' has %" PRId64 " values (at most %d)", what,
                    count, max);
  for (int64_t i = 0; i < count; i++)
    out[i] =
        c->dtype == SC_F32 ? ((const float *)c->cdata)[i] : (float)((const int64_t *)c->cdata)[i];
  *n = (int)count;
  return SEGCAM_OK;
}

/* ---- node translation --------------------------------------------------------------------- */

/* One ONNX node on its way to internal node(s). */
typedef struct xnode {
  int n_in;
  int *in; /* resolved ONNX inputs: value index, -1 = omitted */
  /* Set by the translator: */
  int op;
  void *params;
  int use[SC_MAX_IO], n_use; /* the internal node's inputs (default: the ONNX inputs) */
  int n_out;                 /* leading ONNX outputs the internal op produces (default 1) */
  int rest_done;             /* outputs past n_out were made by the translator (Split) */
  sc_dtype out_dtype;        /* 0: that of the first input */
  /* per output; 0: out_dtype (MaxPool's Indices: int64) */
  sc_dtype out_dtypes[SC_MAX_IO];
  int squeeze_out; /* a 1-D window op: output 0 goes through a Squeeze(axis 2) helper */
} xnode;

static void *new_params(xnode *xn, size_t size) {
  return xn->params = sc_calloc_n(1, size);
}

/* Adds an internal helper node (name NULL) with one fresh unnamed output; for chains that split
 * one ONNX node with more inputs than SC_MAX_IO. */
static segcam_status add_helper(ox *x, int op, const int *in, int n_in, void *params, int *out) {
  sc_dtype dt = in[0] >= 0 ? x->g->values[in[0]].dtype : SC_F32;
  *out = sc_graph_add_value(x->g, NULL, dt, NULL);
  if (*out < 0) {
    free(params);
    return SEGCAM_E_NOMEM;
  }
  if (sc_graph_add_node(x->g, NULL, STR(x->np->op_type), op, in, n_in, out, 1, params) < 0)
    return SEGCAM_E_NOMEM;
  return SEGCAM_OK;
}

typedef segcam_status (*xlate_fn)(ox *x, xnode *xn, int arg);

/* -- convolution and pooling windows -- */

typedef struct window {
  int kernel[2], stride[2], dilation[2], pads[4];
  sc_autopad auto_pad;
  int nsp; /* spatial axes of the ONNX node: 2, or 1 (run as 2-D with H = 1) */
} window;

static segcam_status get_autopad(const ox *x, sc_autopad *ap) {
  char s[32];
  SC_TRY(get_str(x, "auto_pad", "NOTSET", s, sizeof s));
  if (strcmp(s, "NOTSET") == 0 || !*s)
    *ap = SC_PAD_EXPLICIT;
  else if (strcmp(s, "SAME_UPPER") == 0)
    *ap = SC_PAD_SAME_UPPER;
  else if (strcmp(s, "SAME_LOWER") == 0)
    *ap = SC_PAD_SAME_LOWER;
  else if (strcmp(s, "VALID") == 0)
    *ap = SC_PAD_VALID;
  else
    return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported auto_pad '%s'", s);
  return SEGCAM_OK;
}

/* kernel_shape / strides / dilations / pads / auto_pad of Conv, ConvTranspose and the pools.
 * The number of spatial axes comes from kernel_shape, else from a constant weight's rank.  2-D
 * windows are NCHW; a 1-D window ([N,C,L]) becomes the width of a 2-D one with a kernel height
 * of 1 and no padding along H (the translator then calls wrap_1d). */
static segcam_status read_window(const ox *x, const xnode *xn, int need_kernel, window *w) {
  int64_t k[2 * SEGCAM_MAX_DIMS];
  int nk, nsp = 2;
  SC_TRY(get_ints(x, "kernel_shape", k, 2 * SEGCAM_MAX_DIMS, &nk));
  const sc_value *wc = xn->n_in > 1 ? const_value(x, xn->in[1]) : NULL;
  if (nk >= 0)
    nsp = nk;
  else if (need_kernel)
    return node_err(x, SEGCAM_E_FORMAT, "missing attribute 'kernel_shape'");
  else if (wc && wc->shape.ndim >= 2)
    nsp = wc->shape.ndim - 2;
  if (nsp != 2 && nsp != 1)
    return node_err(x, SEGCAM_E_UNSUPPORTED,
                    "%d spatial dimensions: only 1-D and 2-D windows are supported", nsp);
  for (int i = 0; i < 2; i++) {
    w->kernel[i] = 0;
    w->stride[i] = w->dilation[i] = 1;
    w->pads[i] = w->pads[i + 2] = 0;
  }
  w->nsp = nsp;
  const int a = 2 - nsp; /* the first spatial slot the attributes fill */
  if (nsp == 1) w->kernel[0] = 1;
  SC_TRY(get_ints_exact(x, "kernel_shape", nsp, 1, MAX_WINDOW, w->kernel + a));
  SC_TRY(get_ints_exact(x, "strides", nsp, 1, MAX_WINDOW, w->stride + a));
  SC_TRY(get_ints_exact(x, "dilations", nsp, 1, MAX_WINDOW, w->dilation + a));
  if (nsp == 2) {
    SC_TRY(get_ints_exact(x, "pads", 4, 0, MAX_WINDOW, w->pads));
  } else {
    int pv[2] = {0, 0};
    SC_TRY(get_ints_exact(x, "pads", 2, 0, MAX_WINDOW, pv));
    w->pads[1] = pv[0];
    w->pads[3] = pv[1];
  }
  SC_TRY(get_autopad(x, &w->auto_pad));
  if (w->auto_pad != SC_PAD_EXPLICIT) /* the spec forbids both; auto_pad decides */
    memset(w->pads, 0, sizeof w->pads);
  return SEGCAM_OK;
}

/* A 1-D window op runs as its 2-D form with H = 1: X [N,C,L] goes through an Unsqueeze(axis 2)
 * helper, a rank-3 weight [A,B,R] becomes [A,B,1,R] (a reshaped copy when constant, else another
 * Unsqueeze helper), and output 0 comes back through a Squeeze(axis 2) helper (squeeze_out).  The
 * op itself keeps the node's name, so its layer is the [N,K,1,L] tensor. */
static segcam_status wrap_1d(ox *x, xnode *xn, int n_weights) {
  x->g->windows_1d = 1;
  for (int k = 0; k <= n_weights && k < xn->n_use; k++) {
    int v = xn->use[k];
    if (v < 0) continue;
    const sc_value *c = k > 0 ? const_value(x, v) : NULL;
    if (c && c->shape.ndim == 3) {
      sc_shape s = {4, {c->shape.d[0], c->shape.d[1], 1, c->shape.d[2]}};
      size_t bytes = (size_t)sc_shape_numel(&c->shape) * (c->dtype == SC_I64 ? 8 : 4);
      void *d = malloc(bytes ? bytes : 1);
      if (!d) return SEGCAM_E_NOMEM;
      if (bytes) memcpy(d, c->cdata, bytes);
      int nv = sc_graph_add_const(x->g, NULL, c->dtype, &s, d);
      if (nv < 0) return SEGCAM_E_NOMEM;
      xn->use[k] = nv;
      continue;
    }
    if (c) return node_err(x, SEGCAM_E_SHAPE, "a 1-D window needs a rank-3 weight");
    sc_reshape_params *rp = sc_calloc_n(1, sizeof *rp);
    if (!rp) return SEGCAM_E_NOMEM;
    rp->kind = SC_RESHAPE_UNSQUEEZE;
    rp->n_axes = 1;
    rp->axes[0] = 2;
    SC_TRY(add_helper(x, SC_OP_RESHAPE, &v, 1, rp, &xn->use[k]));
  }
  xn->squeeze_out = 1;
  return SEGCAM_OK;
}

static segcam_status xl_conv(ox *x, xnode *xn, int transpose) {
  sc_conv_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = transpose ? SC_OP_CONV_TRANSPOSE : SC_OP_CONV;
  window w = {{0}, {0}, {0}, {0}, SC_PAD_EXPLICIT, 2};
  SC_TRY(read_window(x, xn, 0, &w));
  memcpy(p->kernel, w.kernel, sizeof p->kernel);
  memcpy(p->stride, w.stride, sizeof p->stride);
  memcpy(p->dilation, w.dilation, sizeof p->dilation);
  memcpy(p->pads, w.pads, sizeof p->pads);
  p->auto_pad = w.auto_pad;
  SC_TRY(get_int_in(x, "group", 1, 1, INT_MAX, &p->group));
  const int nsp = w.nsp, a = 2 - nsp;
  if (transpose) {
    SC_TRY(get_ints_exact(x, "output_padding", nsp, 0, MAX_WINDOW, p->output_padding + a));
    int64_t os[2 * SEGCAM_MAX_DIMS];
    int n;
    SC_TRY(get_ints(x, "output_shape", os, 2 * SEGCAM_MAX_DIMS, &n));
    /* Spatial sizes only; some exporters also wrote N and C in front. */
    if (n >= 0 && n != nsp && n != nsp + 2)
      return node_err(x, SEGCAM_E_FORMAT, "attribute 'output_shape' has %d values, expected %d", n,
                      nsp);
    for (int i = 0; n >= 0 && i < nsp; i++) {
      int64_t v = os[n - nsp + i];
      if (v < 1 || v > MAX_ELEMS)
        return node_err(x, SEGCAM_E_FORMAT,
                        "attribute 'output_shape' value %" PRId64 " is out of range", v);
      p->output_shape[a + i] = v;
    }
    if (n >= 0 && nsp == 1) p->output_shape[0] = 1;
  }
  if (nsp == 1) SC_TRY(wrap_1d(x, xn, 1));
  return SEGCAM_OK;
}

static segcam_status xl_pool(ox *x, xnode *xn, int is_max) {
  sc_pool_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = is_max ? SC_OP_MAXPOOL : SC_OP_AVGPOOL;
  window w = {{0}, {0}, {0}, {0}, SC_PAD_EXPLICIT, 2};
  SC_TRY(read_window(x, xn, 1, &w));
  memcpy(p->kernel, w.kernel, sizeof p->kernel);
  memcpy(p->stride, w.stride, sizeof p->stride);
  memcpy(p->dilation, w.dilation, sizeof p->dilation);
  memcpy(p->pads, w.pads, sizeof p->pads);
  p->auto_pad = w.auto_pad;
  SC_TRY(get_int_in(x, "ceil_mode", 0, 0, 1, &p->ceil_mode));
  if (!is_max) SC_TRY(get_int_in(x, "count_include_pad", 0, 0, 1, &p->count_include_pad));
  if (is_max) {
    /* storage_order only concerns the Indices output (MaxPool-8), produced only when read. */
    SC_TRY(get_int_in(x, "storage_order", 0, 0, 1, &p->storage_order));
    const Onnx__NodeProto *np = x->np;
    if (np->n_output > 1 && *STR(np->output[1]) && strmap_get(&x->used, np->output[1]) >= 0) {
      if (w.nsp == 1)
        return node_err(x, SEGCAM_E_UNSUPPORTED, "the Indices output of a 1-D MaxPool");
      xn->n_out = 2;
      xn->out_dtypes[1] = SC_I64;
    }
  }
  if (w.nsp == 1) SC_TRY(wrap_1d(x, xn, 0));
  return SEGCAM_OK;
}

/* MaxUnpool-9/11 (X, I, optional output_shape): kernel_shape, strides and pads as for the pools;
 * output_shape stays an input (constant or folded). */
static segcam_status xl_maxunpool(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_pool_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_MAXUNPOOL;
  window w = {{0}, {0}, {0}, {0}, SC_PAD_EXPLICIT, 2};
  SC_TRY(read_window(x, xn, 1, &w));
  if (w.dilation[0] != 1 || w.dilation[1] != 1 || w.auto_pad != SC_PAD_EXPLICIT)
    return node_err(x, SEGCAM_E_FORMAT, "MaxUnpool has no dilations or auto_pad");
  if (w.nsp != 2) return node_err(x, SEGCAM_E_UNSUPPORTED, "only a 2-D MaxUnpool is supported");
  memcpy(p->kernel, w.kernel, sizeof p->kernel);
  memcpy(p->stride, w.stride, sizeof p->stride);
  memcpy(p->pads, w.pads, sizeof p->pads);
  p->dilation[0] = p->dilation[1] = 1;
  if (x->g->values[xn->in[1]].dtype != SC_I64)
    return node_err(x, SEGCAM_E_FORMAT, "input 'I' must be an integer tensor");
  return SEGCAM_OK;
}

static segcam_status xl_globalpool(ox *x, xnode *xn, int is_max) {
  (void)x;
  sc_globalpool_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_GLOBALPOOL;
  p->is_max = is_max;
  p->keepdims = 1;
  return SEGCAM_OK;
}

/* -- normalisation -- */

static segcam_status xl_batchnorm(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_batchnorm_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_BATCHNORM;
  SC_TRY(get_float(x, "epsilon", 1e-5f, &p->epsilon));
  if (p->epsilon < 0) return node_err(x, SEGCAM_E_FORMAT, "negative epsilon");
  int v = 0;
  SC_TRY(get_int_in(x, "training_mode", 0, 0, 1, &v)); /* opset 14 */
  if (v) return node_err(x, SEGCAM_E_UNSUPPORTED, "training_mode=1 is not supported");
  SC_TRY(get_int_in(x, "spatial", 1, 0, 1, &v)); /* opsets 7-8: 0 = per-element statistics */
  if (!v) return node_err(x, SEGCAM_E_UNSUPPORTED, "spatial=0 is not supported");
  return SEGCAM_OK;
}

static segcam_status xl_layernorm(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_layernorm_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_LAYERNORM;
  SC_TRY(get_int_in(x, "axis", -1, -SEGCAM_MAX_DIMS, SEGCAM_MAX_DIMS - 1, &p->axis));
  SC_TRY(get_float(x, "epsilon", 1e-5f, &p->epsilon));
  return SEGCAM_OK;
}

/* InstanceNormalization(x, scale [C], B [C]) normalises each (n, c) slice over the spatial axes
 * [Operators.md: y = scale * (x - mean) / sqrt(variance + epsilon) + B]: the statistics are those
 * of LayerNormalization with axis 2 (over axes [2, rank), with a scale of 1), and the per-channel
 * affine map on axis 1 is a BatchNormalization with mean 0, variance 1 and epsilon 0.  PyTorch
 * exports nn.InstanceNorm2d and (through a reshape to [N, G, -1]) nn.GroupNorm this way. */
static segcam_status xl_instancenorm(ox *x, xnode *xn, int arg) {
  (void)arg;
  const sc_value *sv = const_value(x, xn->in[1]), *bv = const_value(x, xn->in[2]);
  if (!sv || !bv)
    return node_err(x, SEGCAM_E_UNSUPPORTED, "inputs 'scale' and 'B' must be constants");
  if (sv->dtype != SC_F32 || bv->dtype != SC_F32 || sv->shape.ndim != 1 || bv->shape.ndim != 1 ||
      sv->shape.d[0] != bv->shape.d[0] || sv->shape.d[0] < 1)
    return node_err(x, SEGCAM_E_FORMAT, "'scale' and 'B' must be float vectors of one length");
  const int64_t C = sv->shape.d[0];
  float eps;
  SC_TRY(get_float(x, "epsilon", 1e-5f, &eps));
  if (eps < 0) return node_err(x, SEGCAM_E_FORMAT, "negative epsilon");
  sc_layernorm_params *lp = sc_calloc_n(1, sizeof *lp);
  float *one = sc_calloc_n(1, sizeof *one), *mean = sc_calloc_n((size_t)C, sizeof *mean);
  float *var = sc_calloc_n((size_t)C, sizeof *var);
  if (!lp || !one || !mean || !var) {
    free(lp), free(one), free(mean), free(var);
    return SEGCAM_E_NOMEM;
  }
  lp->axis = 2;
  lp->epsilon = eps;
  one[0] = 1;
  for (int64_t c = 0; c < C; c++) var[c] = 1;
  const sc_shape s1 = {1, {1}}, sc = {1, {C}};
  int v_one = sc_graph_add_const(x->g, NULL, SC_F32, &s1, one);
  int v_mean = sc_graph_add_const(x->g, NULL, SC_F32, &sc, mean);
  int v_var = sc_graph_add_const(x->g, NULL, SC_F32, &sc, var);
  if (v_one < 0 || v_mean < 0 || v_var < 0) {
    free(lp);
    return SEGCAM_E_NOMEM;
  }
  int ln_in[2] = {xn->in[0], v_one}, normed;
  SC_TRY(add_helper(x, SC_OP_LAYERNORM, ln_in, 2, lp, &normed));
  sc_batchnorm_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_BATCHNORM;
  p->epsilon = 0;
  const int use[5] = {normed, xn->in[1], xn->in[2], v_mean, v_var};
  memcpy(xn->use, use, sizeof use);
  xn->n_use = 5;
  return SEGCAM_OK;
}

/* -- activations -- */

static segcam_status xl_act(ox *x, xnode *xn, int kind) {
  sc_act_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_ACT;
  p->kind = (sc_act_kind)kind;
  switch (kind) {
  case SC_ACT_LEAKY_RELU: return get_float(x, "alpha", 0.01f, &p->alpha);
  case SC_ACT_ELU: return get_float(x, "alpha", 1.0f, &p->alpha);
  case SC_ACT_SELU: /* defaults: float32 of the constants in Klambauer et al. 2017 */
    SC_TRY(get_float(x, "alpha", 1.67326319217681884765625f, &p->alpha));
    return get_float(x, "gamma", 1.05070102214813232421875f, &p->beta);
  case SC_ACT_HARD_SIGMOID:
    SC_TRY(get_float(x, "alpha", 0.2f, &p->alpha));
    return get_float(x, "beta", 0.5f, &p->beta);
  case SC_ACT_GELU: {
    char s[16];
    SC_TRY(get_str(x, "approximate", "none", s, sizeof s));
    if (strcmp(s, "tanh") == 0)
      p->kind = SC_ACT_GELU_TANH;
    else if (strcmp(s, "none") != 0)
      return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported approximate '%s'", s);
    return SEGCAM_OK;
  }
  case SC_ACT_CLIP: {
    /* Clip-6: min/max attributes; Clip-11+: optional inputs 1 and 2, which must be constants
     * here.  Defaults are the float range. [Changelog Clip-6/11] */
    p->lo = -FLT_MAX;
    p->hi = FLT_MAX;
    if (x->opset < 11) {
      SC_TRY(get_float(x, "min", -FLT_MAX, &p->lo));
      SC_TRY(get_float(x, "max", FLT_MAX, &p->hi));
    } else {
      static const char *const which[2] = {"min", "max"};
      for (int k = 1; k < 3 && k < xn->n_in; k++) {
        if (xn->in[k] < 0) continue;
        float v[1] = {0};
        int n = 0;
        SC_TRY(const_floats(x, xn->in[k], which[k - 1], v, 1, &n));
        if (n != 1)
          return node_err(x, SEGCAM_E_FORMAT, "input '%s' must hold one value", which[k - 1]);
        *(k == 1 ? &p->lo : &p->hi) = v[0];
      }
    }
    xn->n_use = 1;
    return SEGCAM_OK;
  }
  default: return SEGCAM_OK;
  }
}

static segcam_status xl_prelu(ox *x, xnode *xn, int arg) {
  (void)x, (void)arg;
  xn->op = SC_OP_PRELU;
  return SEGCAM_OK;
}

static segcam_status xl_softmax(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_softmax_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_SOFTMAX;
  /* Before opset 13 the input is coerced to 2-D at `axis` (default 1). [Changelog Softmax-13] */
  p->coerce_2d = x->opset < 13;
  return get_int_in(x, "axis", p->coerce_2d ? 1 : -1, -SEGCAM_MAX_DIMS, SEGCAM_MAX_DIMS - 1,
                    &p->axis);
}

/* -- resizing -- */

static segcam_status resize_mode(const ox *x, sc_resize_mode *m, int allow_cubic) {
  char s[16];
  SC_TRY(get_str(x, "mode", "nearest", s, sizeof s));
  if (strcmp(s, "nearest") == 0)
    *m = SC_RESIZE_NEAREST;
  else if (strcmp(s, "linear") == 0 || strcmp(s, "bilinear") == 0)
    *m = SC_RESIZE_LINEAR;
  else if (strcmp(s, "cubic") == 0 && allow_cubic)
    *m = SC_RESIZE_CUBIC;
  else
    return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported mode '%s'", s);
  return SEGCAM_OK;
}

/* A constant with no elements stands for an omitted input (Resize-11 requires roi and scales,
 * so exporters pass empty tensors). */
static int drop_empty(const ox *x, int v) {
  const sc_value *c = const_value(x, v);
  return c && sc_shape_numel(&c->shape) == 0 ? -1 : v;
}

static segcam_status xl_resize(ox *x, xnode *xn, int is_upsample) {
  sc_resize_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_RESIZE;
  xn->n_use = 4; /* X, roi, scales, sizes */
  for (int k = 0; k < 4; k++) xn->use[k] = -1;
  xn->use[0] = xn->in[0];
  p->cubic_a = -0.75f;
  if (is_upsample || x->opset < 11) {
    /* Upsample-7/9 and Resize-10: asymmetric coordinates, and ORT's "simple" nearest rounding.
     * [FORMATS §5.2; version converter upsample_9_10] */
    SC_TRY(resize_mode(x, &p->mode, 0));
    p->coord = SC_COORD_ASYMMETRIC;
    p->nearest = SC_NEAREST_SIMPLE;
    if (is_upsample && x->opset < 9) {
      int n;
      SC_TRY(get_floats(x, "scales", p->fixed_scales, SEGCAM_MAX_DIMS, &n));
      if (n < 1) return node_err(x, SEGCAM_E_FORMAT, "missing attribute 'scales'");
      for (int i = 0; i < n; i++)
        if (!(p->fixed_scales[i] > 0))
          return node_err(x, SEGCAM_E_FORMAT, "scales[%d] = %g is not positive", i,
                          (double)p->fixed_scales[i]);
      p->n_fixed = n;
    } else {
      if (xn->n_in < 2 || xn->in[1] < 0) return node_err(x, SEGCAM_E_FORMAT, "missing scales");
      xn->use[2] = xn->in[1];
    }
    return SEGCAM_OK;
  }

  char s[40];
  SC_TRY(resize_mode(x, &p->mode, 1));
  SC_TRY(get_str(x, "coordinate_transformation_mode", "half_pixel", s, sizeof s));
  static const struct {
    const char *name;
    sc_coord_mode mode;
  } coords[] = {
      {"half_pixel", SC_COORD_HALF_PIXEL},
      {"pytorch_half_pixel", SC_COORD_PYTORCH_HALF_PIXEL},
      {"align_corners", SC_COORD_ALIGN_CORNERS},
      {"asymmetric", SC_COORD_ASYMMETRIC},
      {"tf_half_pixel_for_nn", SC_COORD_TF_HALF_PIXEL_FOR_NN},
      {"tf_crop_and_resize", SC_COORD_TF_CROP_AND_RESIZE},
      {"half_pixel_symmetric", SC_COORD_HALF_PIXEL_SYMMETRIC},
  };
  size_t i;
  for (i = 0; i < sizeof coords / sizeof coords[0] && strcmp(s, coords[i].name) != 0; i++) {
  }
  if (i == sizeof coords / sizeof coords[0])
    return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported coordinate_transformation_mode '%s'", s);
  p->coord = coords[i].mode;
  SC_TRY(get_str(x, "nearest_mode", "round_prefer_floor", s, sizeof s));
  if (strcmp(s, "round_prefer_floor") == 0)
    p->nearest = SC_NEAREST_ROUND_PREFER_FLOOR;
  else if (strcmp(s, "round_prefer_ceil") == 0)
    p->nearest = SC_NEAREST_ROUND_PREFER_CEIL;
  else if (strcmp(s, "floor") == 0)
    p->nearest = SC_NEAREST_FLOOR;
  else if (strcmp(s, "ceil") == 0)
    p->nearest = SC_NEAREST_CEIL;
  else
    return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported nearest_mode '%s'", s);
  SC_TRY(get_float(x, "cubic_coeff_a", -0.75f, &p->cubic_a));
  SC_TRY(get_int_in(x, "exclude_outside", 0, 0, 1, &p->exclude_outside));
  SC_TRY(get_float(x, "extrapolation_value", 0.0f, &p->extrapolation_value));
  int v = 0;
  SC_TRY(get_int_in(x, "antialias", 0, 0, 1, &v)); /* opset 18 */
  if (v) return node_err(x, SEGCAM_E_UNSUPPORTED, "antialias=1 is not supported");
  SC_TRY(get_str(x, "keep_aspect_ratio_policy", "stretch", s, sizeof s));
  if (strcmp(s, "stretch") != 0)
    return node_err(x, SEGCAM_E_UNSUPPORTED, "keep_aspect_ratio_policy '%s' is not supported", s);
  for (int k = 1; k < 4 && k < xn->n_in; k++) xn->use[k] = drop_empty(x, xn->in[k]);
  /* axes (opset 18) restricts scales/sizes to some axes; only the leading-axes identity is
   * equivalent to the full form the kernel takes. */
  int64_t axes[SEGCAM_MAX_DIMS];
  int na;
  SC_TRY(get_ints(x, "axes", axes, SEGCAM_MAX_DIMS, &na));
  for (int k = 0; k < na; k++)
    if (axes[k] != k)
      return node_err(x, SEGCAM_E_UNSUPPORTED,
                      "attribute 'axes' other than [0, 1, ...] is not supported");
  if (xn->use[2] < 0 && xn->use[3] < 0)
    return node_err(x, SEGCAM_E_FORMAT, "neither scales nor sizes is given");
  if (const_value(x, xn->use[2]) && const_value(x, xn->use[3]))
    return node_err(x, SEGCAM_E_FORMAT, "both scales and sizes are given");
  return SEGCAM_OK;
}

/* -- elementwise and shape ops -- */

static segcam_status xl_binary(ox *x, xnode *xn, int kind) {
  (void)x;
  sc_binary_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_BINARY;
  p->kind = (sc_binary_kind)kind;
  return SEGCAM_OK;
}

/* Max / Min are variadic: one input is a copy, more than two become a chain of binary nodes. */
static segcam_status xl_minmax(ox *x, xnode *xn, int kind) {
  if (xn->n_in == 1) {
    xn->op = SC_OP_IDENTITY;
    return SEGCAM_OK;
  }
  int acc = xn->in[0];
  for (int k = 1; k + 1 < xn->n_in; k++) {
    sc_binary_params *p = sc_calloc_n(1, sizeof *p);
    if (!p) return SEGCAM_E_NOMEM;
    p->kind = (sc_binary_kind)kind;
    int in[2] = {acc, xn->in[k]};
    SC_TRY(add_helper(x, SC_OP_BINARY, in, 2, p, &acc));
  }
  SC_TRY(xl_binary(x, xn, kind));
  xn->use[0] = acc;
  xn->use[1] = xn->in[xn->n_in - 1];
  xn->n_use = 2;
  return SEGCAM_OK;
}

static segcam_status xl_concat(ox *x, xnode *xn, int arg) {
  (void)arg;
  int axis = 0;
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, "axis", AT_INT, &a));
  if (!a) return node_err(x, SEGCAM_E_FORMAT, "missing attribute 'axis'");
  SC_TRY(get_int_in(x, "axis", 0, -SEGCAM_MAX_DIMS, SEGCAM_MAX_DIMS - 1, &axis));
  /* More inputs than one internal node takes: concatenate in chunks (associative on one axis). */
  int n = xn->n_in, first = 0, acc = -1;
  while (n - first + (acc >= 0) > SC_MAX_IO) {
    int in[SC_MAX_IO], k = 0;
    if (acc >= 0) in[k++] = acc;
    while (k < SC_MAX_IO) in[k++] = xn->in[first++];
    sc_concat_params *p = sc_calloc_n(1, sizeof *p);
    if (!p) return SEGCAM_E_NOMEM;
    p->axis = axis;
    SC_TRY(add_helper(x, SC_OP_CONCAT, in, SC_MAX_IO, p, &acc));
  }
  sc_concat_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_CONCAT;
  p->axis = axis;
  xn->n_use = 0;
  if (acc >= 0) xn->use[xn->n_use++] = acc;
  while (first < n) xn->use[xn->n_use++] = xn->in[first++];
  return SEGCAM_OK;
}

static segcam_status xl_identity(ox *x, xnode *xn, int arg) {
  (void)x, (void)arg;
  xn->op = SC_OP_IDENTITY;
  xn->n_use = 1; /* Dropout's ratio / training_mode inputs: inference ignores them */
  return SEGCAM_OK;
}

static segcam_status xl_reshape(ox *x, xnode *xn, int kind) {
  sc_reshape_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_RESHAPE;
  p->kind = (sc_reshape_kind)kind;
  switch (kind) {
  case SC_RESHAPE_SHAPE: return get_int_in(x, "allowzero", 0, 0, 1, &p->allowzero);
  case SC_RESHAPE_FLATTEN:
    return get_int_in(x, "axis", 1, -SEGCAM_MAX_DIMS, SEGCAM_MAX_DIMS, &p->axis);
  default: /* SQUEEZE, UNSQUEEZE: axes attribute before opset 13, input 1 from 13 */
    if (x->opset >= 13) {
      if (kind == SC_RESHAPE_UNSQUEEZE && (xn->n_in < 2 || xn->in[1] < 0))
        return node_err(x, SEGCAM_E_FORMAT, "missing input 'axes'");
      return SEGCAM_OK;
    }
    SC_TRY(get_ints(x, "axes", p->axes, SEGCAM_MAX_DIMS, &p->n_axes));
    if (p->n_axes < 0) {
      if (kind == SC_RESHAPE_UNSQUEEZE)
        return node_err(x, SEGCAM_E_FORMAT, "missing attribute 'axes'");
      p->n_axes = 0;
    }
    for (int i = 0; i < p->n_axes; i++)
      if (p->axes[i] < -SEGCAM_MAX_DIMS || p->axes[i] >= SEGCAM_MAX_DIMS)
        return node_err(x, SEGCAM_E_FORMAT, "axes[%d] = %" PRId64 " is out of range", i,
                        p->axes[i]);
    xn->n_use = 1;
    return SEGCAM_OK;
  }
}

/* ReduceMean/Max/Min/Sum: axes are an attribute before opset 18 (ReduceSum: before 13) and
 * optional input 1 from then on, when noop_with_empty_axes also appears.
 * [Changelog ReduceMean-18, ReduceSum-13] */
static segcam_status xl_reduce(ox *x, xnode *xn, int kind) {
  sc_reduce_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_REDUCE;
  p->kind = kind;
  SC_TRY(get_int_in(x, "keepdims", 1, 0, 1, &p->keepdims));
  SC_TRY(get_int_in(x, "noop_with_empty_axes", 0, 0, 1, &p->noop_with_empty_axes));
  if (x->opset >= (kind == SC_REDUCE_SUM ? 13 : 18)) {
    if (xn->n_in > 1) xn->use[1] = drop_empty(x, xn->in[1]);
    return SEGCAM_OK;
  }
  if (xn->n_in > 1) return node_err(x, SEGCAM_E_FORMAT, "takes 1 input before this opset");
  SC_TRY(get_ints(x, "axes", p->axes, SEGCAM_MAX_DIMS, &p->n_axes));
  if (p->n_axes < 0) p->n_axes = 0;
  for (int i = 0; i < p->n_axes; i++)
    if (p->axes[i] < -SEGCAM_MAX_DIMS || p->axes[i] >= SEGCAM_MAX_DIMS)
      return node_err(x, SEGCAM_E_FORMAT, "axes[%d] = %" PRId64 " is out of range", i,
                      p->axes[i]);
  xn->n_use = 1;
  return SEGCAM_OK;
}

/* DepthToSpace (arg 1; mode DCR or CRD from opset 11, DCR before) and SpaceToDepth (arg 0). */
static segcam_status xl_depth_space(ox *x, xnode *xn, int to_space) {
  sc_depth_space_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_DEPTH_SPACE;
  p->to_space = to_space;
  if (!attr(x, "blocksize")) return node_err(x, SEGCAM_E_FORMAT, "missing attribute 'blocksize'");
  SC_TRY(get_int_in(x, "blocksize", 1, 1, MAX_WINDOW, &p->blocksize));
  if (to_space) {
    char mode[8];
    SC_TRY(get_str(x, "mode", "DCR", mode, sizeof mode));
    if (strcmp(mode, "CRD") != 0 && strcmp(mode, "DCR") != 0)
      return node_err(x, SEGCAM_E_UNSUPPORTED, "mode '%s' (expected DCR or CRD)", mode);
    p->crd = strcmp(mode, "CRD") == 0;
  }
  return SEGCAM_OK;
}

static segcam_status xl_transpose(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_transpose_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_TRANSPOSE;
  int64_t perm[SEGCAM_MAX_DIMS];
  int n, seen = 0;
  SC_TRY(get_ints(x, "perm", perm, SEGCAM_MAX_DIMS, &n));
  p->n_perm = n < 0 ? 0 : n;
  for (int i = 0; i < p->n_perm; i++) {
    if (perm[i] < 0 || perm[i] >= n || (seen >> perm[i] & 1))
      return node_err(x, SEGCAM_E_FORMAT, "attribute 'perm' is not a permutation");
    seen |= 1 << perm[i];
    p->perm[i] = (int)perm[i];
  }
  return SEGCAM_OK;
}

static segcam_status xl_pad(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_pad_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_PAD;
  char s[16];
  SC_TRY(get_str(x, "mode", "constant", s, sizeof s));
  if (strcmp(s, "constant") == 0)
    p->mode = SC_PADMODE_CONSTANT;
  else if (strcmp(s, "reflect") == 0)
    p->mode = SC_PADMODE_REFLECT;
  else if (strcmp(s, "edge") == 0)
    p->mode = SC_PADMODE_EDGE;
  else if (strcmp(s, "wrap") == 0)
    p->mode = SC_PADMODE_WRAP;
  else
    return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported mode '%s'", s);
  if (x->opset >= 11) { /* pads, constant_value, axes (18) are inputs */
    if (xn->n_in < 2 || xn->in[1] < 0) return node_err(x, SEGCAM_E_FORMAT, "missing input 'pads'");
    return SEGCAM_OK;
  }
  /* Pad-2: pads and value are attributes. */
  SC_TRY(get_ints(x, "pads", p->pads, 2 * SEGCAM_MAX_DIMS, &p->n_pads));
  if (p->n_pads < 0) return node_err(x, SEGCAM_E_FORMAT, "missing attribute 'pads'");
  if (p->n_pads % 2)
    return node_err(x, SEGCAM_E_FORMAT, "attribute 'pads' has an odd count %d", p->n_pads);
  for (int i = 0; i < p->n_pads; i++)
    if (p->pads[i] < -MAX_ELEMS || p->pads[i] > MAX_ELEMS)
      return node_err(x, SEGCAM_E_FORMAT, "pads[%d] = %" PRId64 " is out of range", i, p->pads[i]);
  SC_TRY(get_float(x, "value", 0.0f, &p->value));
  xn->n_use = 1;
  return SEGCAM_OK;
}

static segcam_status xl_slice(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_slice_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_SLICE;
  if (x->opset >= 10) {
    if (xn->n_in < 3 || xn->in[1] < 0 || xn->in[2] < 0)
      return node_err(x, SEGCAM_E_FORMAT, "missing input 'starts' or 'ends'");
    return SEGCAM_OK;
  }
  /* Slice-1: starts / ends / axes attributes. */
  int ns, ne, na;
  SC_TRY(get_ints(x, "starts", p->starts, SEGCAM_MAX_DIMS, &ns));
  SC_TRY(get_ints(x, "ends", p->ends, SEGCAM_MAX_DIMS, &ne));
  SC_TRY(get_ints(x, "axes", p->axes, SEGCAM_MAX_DIMS, &na));
  if (ns < 1 || ne != ns || (na >= 0 && na != ns))
    return node_err(x, SEGCAM_E_FORMAT,
                    "attributes 'starts', 'ends' (and 'axes') must be given with equal lengths");
  for (int i = 0; i < ns; i++) {
    if (na < 0)
      p->axes[i] = i;
    else if (p->axes[i] < -SEGCAM_MAX_DIMS || p->axes[i] >= SEGCAM_MAX_DIMS)
      return node_err(x, SEGCAM_E_FORMAT, "axes[%d] = %" PRId64 " is out of range", i, p->axes[i]);
  }
  p->n = ns;
  xn->n_use = 1;
  return SEGCAM_OK;
}

/* Expand(x, shape) broadcasts x against `shape` with the multidirectional rule (the output may
 * be larger than `shape`) [Operators.md Expand]: that is x * ones(shape), so it becomes Mul with a
 * ConstantOfShape(shape, 1) of x's type, whose backward sums the gradient over the broadcast
 * axes.  (PyTorch writes it for expand / expand_as.) */
static segcam_status xl_expand(ox *x, xnode *xn, int arg) {
  (void)arg;
  const sc_dtype dt = x->g->values[xn->in[0]].dtype;
  sc_constant_of_shape_params *cp = sc_calloc_n(1, sizeof *cp);
  if (!cp) return SEGCAM_E_NOMEM;
  cp->dtype = dt;
  cp->value = 1;
  int ones;
  SC_TRY(add_helper(x, SC_OP_CONSTANT_OF_SHAPE, &xn->in[1], 1, cp, &ones));
  x->g->values[ones].dtype = dt;
  sc_binary_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_BINARY;
  p->kind = SC_BIN_MUL;
  xn->use[1] = ones;
  xn->n_use = 2;
  return SEGCAM_OK;
}

/* Split(x) along `axis` into the sizes of 'split' (an attribute before opset 13, a constant
 * input from 13 on) [Operators.md Split]: one Slice per output; output 0 is the ONNX node
 * itself, the others are unnamed helper nodes.  Without sizes (equal parts, opset 18's
 * num_outputs) the axis length is needed, which the loader does not know: refused. */
#define SPLIT_MAX 256
static segcam_status xl_split(ox *x, xnode *xn, int arg) {
  (void)arg;
  const Onnx__NodeProto *np = x->np;
  const int n = (int)np->n_output;
  if (n < 1 || n > SPLIT_MAX)
    return node_err(x, SEGCAM_E_UNSUPPORTED, "%d outputs (1 to %d are supported)", n, SPLIT_MAX);
  int axis;
  SC_TRY(get_int_in(x, "axis", 0, -SEGCAM_MAX_DIMS, SEGCAM_MAX_DIMS - 1, &axis));
  int64_t sizes[SPLIT_MAX] = {0};
  int ns = -1;
  if (x->opset < 13) {
    SC_TRY(get_ints(x, "split", sizes, SPLIT_MAX, &ns));
  } else if (xn->n_in > 1 && xn->in[1] >= 0) {
    const sc_value *c = const_value(x, xn->in[1]);
    if (!c || c->dtype != SC_I64)
      return node_err(x, SEGCAM_E_UNSUPPORTED, "input 'split' must be an int64 constant");
    int64_t cnt = sc_shape_numel(&c->shape);
    if (cnt > SPLIT_MAX) cnt = SPLIT_MAX + 1;
    ns = (int)cnt;
    if (ns <= SPLIT_MAX) memcpy(sizes, c->cdata, (size_t)ns * sizeof *sizes);
  }
  if (ns < 0)
    return node_err(x, SEGCAM_E_UNSUPPORTED,
                    "a Split into equal parts (no 'split' sizes) is not supported");
  if (ns != n) return node_err(x, SEGCAM_E_FORMAT, "'split' has %d sizes for %d outputs", ns, n);
  for (int k = 0; k < n; k++)
    if (sizes[k] < 0 || sizes[k] > MAX_ELEMS)
      return node_err(x, SEGCAM_E_FORMAT, "split size %d is %" PRId64, k, sizes[k]);
  int64_t off = sizes[0];
  for (int k = 1; k < n; k++) {
    const char *nm = STR(np->output[k]);
    int out;
    if (!*nm) {
      out = sc_graph_add_value(x->g, NULL, x->g->values[xn->in[0]].dtype, NULL);
      if (out < 0) return SEGCAM_E_NOMEM;
    } else if (strmap_get(&x->vals, nm) >= 0) {
      return node_err(x, SEGCAM_E_FORMAT, "output '%s' is already defined", nm);
    } else {
      SC_TRY(add_named(x, nm, x->g->values[xn->in[0]].dtype, NULL, NULL, &out));
    }
    sc_slice_params *sp = sc_calloc_n(1, sizeof *sp);
    if (!sp) return SEGCAM_E_NOMEM;
    sp->n = 1, sp->axes[0] = axis, sp->starts[0] = off, sp->ends[0] = off + sizes[k];
    if (sc_graph_add_node(x->g, NULL, "Split", SC_OP_SLICE, xn->in, 1, &out, 1, sp) < 0)
      return SEGCAM_E_NOMEM;
    off += sizes[k];
  }
  sc_slice_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_SLICE;
  p->n = 1, p->axes[0] = axis, p->starts[0] = 0, p->ends[0] = sizes[0];
  xn->n_use = 1;
  xn->rest_done = 1;
  return SEGCAM_OK;
}

static segcam_status xl_gemm(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_gemm_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_GEMM;
  SC_TRY(get_float(x, "alpha", 1.0f, &p->alpha));
  SC_TRY(get_float(x, "beta", 1.0f, &p->beta));
  SC_TRY(get_int_in(x, "transA", 0, 0, 1, &p->trans_a));
  return get_int_in(x, "transB", 0, 0, 1, &p->trans_b);
}

static segcam_status xl_matmul(ox *x, xnode *xn, int arg) {
  (void)x, (void)arg;
  xn->op = SC_OP_MATMUL;
  return SEGCAM_OK;
}

static segcam_status xl_shape(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_shape_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_SHAPE;
  xn->out_dtype = SC_I64;
  SC_TRY(get_int(x, "start", 0, &p->start)); /* opset 15 */
  return get_int(x, "end", INT64_MAX, &p->end);
}

static segcam_status xl_gather(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_gather_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_GATHER;
  return get_int_in(x, "axis", 0, -SEGCAM_MAX_DIMS, SEGCAM_MAX_DIMS - 1, &p->axis);
}

static segcam_status xl_cast(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_cast_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_CAST;
  int64_t to = 0;
  SC_TRY(get_int(x, "to", 0, &to));
  if (to == DT_FLOAT || to == DT_DOUBLE)
    p->to = SC_F32;
  else if (to == DT_INT64 || to == DT_INT32)
    p->to = SC_I64;
  else
    return node_err(x, SEGCAM_E_UNSUPPORTED, "cast to %s is not supported",
                    onnx_type_name(to >= 0 && to <= INT_MAX ? (int)to : -1));
  xn->out_dtype = p->to;
  return SEGCAM_OK;
}

static segcam_status xl_constant_of_shape(ox *x, xnode *xn, int arg) {
  (void)arg;
  sc_constant_of_shape_params *p = new_params(xn, sizeof *p);
  if (!p) return SEGCAM_E_NOMEM;
  xn->op = SC_OP_CONSTANT_OF_SHAPE;
  p->dtype = SC_F32; /* default: float32 zero */
  const Onnx__AttributeProto *a;
  SC_TRY(attr_of(x, "value", AT_TENSOR, &a));
  if (a) {
    char what[512];
    snprintf(what, sizeof what, "node '%.400s' (ConstantOfShape): attribute 'value'", x->label);
    sc_shape s;
    void *d;
    SC_TRY(read_tensor(x, a->t, what, &p->dtype, &s, &d));
    if (sc_shape_numel(&s) != 1) {
      free(d);
      return node_err(x, SEGCAM_E_FORMAT, "attribute 'value' must hold one element");
    }
    p->value = p->dtype == SC_F32 ? *(float *)d : (double)*(int64_t *)d;
    free(d);
  }
  xn->out_dtype = p->dtype;
  return SEGCAM_OK;
}

static segcam_status xl_range(ox *x, xnode *xn, int arg) {
  (void)x, (void)arg;
  xn->op = SC_OP_RANGE;
  return SEGCAM_OK;
}

/* ONNX op -> translator.  min_in/max_in bound the ONNX inputs (max MANY: variadic, each
 * required); arg selects the kind within an internal op. */
typedef struct op_entry {
  const char *type;
  xlate_fn fn;
  int min_in, max_in;
  int arg;
} op_entry;

static const op_entry op_table[] = {
    {"Conv", xl_conv, 2, 3, 0},
    {"ConvTranspose", xl_conv, 2, 3, 1},
    {"BatchNormalization", xl_batchnorm, 5, 5, 0},
    {"LayerNormalization", xl_layernorm, 2, 3, 0},
    {"InstanceNormalization", xl_instancenorm, 3, 3, 0},
    {"Relu", xl_act, 1, 1, SC_ACT_RELU},
    {"LeakyRelu", xl_act, 1, 1, SC_ACT_LEAKY_RELU},
    {"PRelu", xl_prelu, 2, 2, 0},
    {"Sigmoid", xl_act, 1, 1, SC_ACT_SIGMOID},
    {"Tanh", xl_act, 1, 1, SC_ACT_TANH},
    {"Elu", xl_act, 1, 1, SC_ACT_ELU},
    {"Selu", xl_act, 1, 1, SC_ACT_SELU},
    {"HardSigmoid", xl_act, 1, 1, SC_ACT_HARD_SIGMOID},
    {"HardSwish", xl_act, 1, 1, SC_ACT_HARD_SWISH},
    {"Softplus", xl_act, 1, 1, SC_ACT_SOFTPLUS},
    {"Softsign", xl_act, 1, 1, SC_ACT_SOFTSIGN},
    {"Gelu", xl_act, 1, 1, SC_ACT_GELU},
    {"Erf", xl_act, 1, 1, SC_ACT_ERF},
    {"Exp", xl_act, 1, 1, SC_ACT_EXP},
    {"Neg", xl_act, 1, 1, SC_ACT_NEG},
    {"Sqrt", xl_act, 1, 1, SC_ACT_SQRT},
    {"Abs", xl_act, 1, 1, SC_ACT_ABS},
    {"Floor", xl_act, 1, 1, SC_ACT_FLOOR},
    {"Clip", xl_act, 1, 3, SC_ACT_CLIP},
    {"Softmax", xl_softmax, 1, 1, 0},
    {"ReduceMean", xl_reduce, 1, 2, SC_REDUCE_MEAN},
    {"ReduceMax", xl_reduce, 1, 2, SC_REDUCE_MAX},
    {"ReduceMin", xl_reduce, 1, 2, SC_REDUCE_MIN},
    {"ReduceSum", xl_reduce, 1, 2, SC_REDUCE_SUM},
    {"MaxPool", xl_pool, 1, 1, 1},
    {"AveragePool", xl_pool, 1, 1, 0},
    {"GlobalAveragePool", xl_globalpool, 1, 1, 0},
    {"GlobalMaxPool", xl_globalpool, 1, 1, 1},
    {"MaxUnpool", xl_maxunpool, 2, 3, 0},
    {"Resize", xl_resize, 1, 4, 0},
    {"Upsample", xl_resize, 1, 2, 1},
    {"Concat", xl_concat, 1, MANY, 0},
    {"Add", xl_binary, 2, 2, SC_BIN_ADD},
    {"Sub", xl_binary, 2, 2, SC_BIN_SUB},
    {"Mul", xl_binary, 2, 2, SC_BIN_MUL},
    {"Div", xl_binary, 2, 2, SC_BIN_DIV},
    {"Pow", xl_binary, 2, 2, SC_BIN_POW},
    {"Max", xl_minmax, 1, MANY, SC_BIN_MAX},
    {"Min", xl_minmax, 1, MANY, SC_BIN_MIN},
    {"Identity", xl_identity, 1, 1, 0},
    {"Dropout", xl_identity, 1, 3, 0},
    {"Flatten", xl_reshape, 1, 1, SC_RESHAPE_FLATTEN},
    {"Reshape", xl_reshape, 2, 2, SC_RESHAPE_SHAPE},
    {"Squeeze", xl_reshape, 1, 2, SC_RESHAPE_SQUEEZE},
    {"Unsqueeze", xl_reshape, 1, 2, SC_RESHAPE_UNSQUEEZE},
    {"Transpose", xl_transpose, 1, 1, 0},
    {"DepthToSpace", xl_depth_space, 1, 1, 1},
    {"SpaceToDepth", xl_depth_space, 1, 1, 0},
    {"Pad", xl_pad, 1, 4, 0},
    {"Slice", xl_slice, 1, 5, 0},
    {"Split", xl_split, 1, 2, 0},
    {"Expand", xl_expand, 2, 2, 0},
    {"Gemm", xl_gemm, 2, 3, 0},
    {"MatMul", xl_matmul, 2, 2, 0},
    {"Shape", xl_shape, 1, 1, 0},
    {"Gather", xl_gather, 2, 2, 0},
    {"Cast", xl_cast, 1, 1, 0},
    {"ConstantOfShape", xl_constant_of_shape, 1, 1, 0},
    {"Range", xl_range, 3, 3, 0},
};

/* A Constant node becomes a constant value named after its output. [Operators.md Constant] */
static segcam_status constant_node(ox *x) {
  const Onnx__NodeProto *np = x->np;
  if (np->n_output < 1 || !*STR(np->output[0])) return SEGCAM_OK;
  if (np->n_attribute != 1)
    return node_err(x, SEGCAM_E_FORMAT, "expected exactly one attribute, found %zu",
                    np->n_attribute);
  const Onnx__AttributeProto *a = np->attribute[0];
  const char *an = STR(a->name);
  int type = attr_type(a);
  sc_dtype dt;
  sc_shape s = {0, {0}};
  void *data = NULL;
  if (strcmp(an, "value") == 0 && type == AT_TENSOR && a->t) {
    char what[512];
    snprintf(what, sizeof what, "node '%.400s' (Constant): attribute 'value'", x->label);
    SC_TRY(read_tensor(x, a->t, what, &dt, &s, &data));
  } else if ((strcmp(an, "value_float") == 0 && type == AT_FLOAT) ||
             (strcmp(an, "value_floats") == 0 && type == AT_FLOATS)) {
    size_t n = type == AT_FLOAT ? 1 : a->n_floats;
    float *f = sc_calloc_n(n ? n : 1, sizeof *f);
    if (!f) return SEGCAM_E_NOMEM;
    if (type == AT_FLOAT)
      f[0] = a->f;
    else if (n)
      memcpy(f, a->floats, n * sizeof *f);
    dt = SC_F32;
    data = f;
    if (type == AT_FLOATS) s.ndim = 1, s.d[0] = (int64_t)n;
  } else if ((strcmp(an, "value_int") == 0 && type == AT_INT) ||
             (strcmp(an, "value_ints") == 0 && type == AT_INTS)) {
    size_t n = type == AT_INT ? 1 : a->n_ints;
    int64_t *q = sc_calloc_n(n ? n : 1, sizeof *q);
    if (!q) return SEGCAM_E_NOMEM;
    if (type == AT_INT)
      q[0] = a->i;
    else if (n)
      memcpy(q, a->ints, n * sizeof *q);
    dt = SC_I64;
    data = q;
    if (type == AT_INTS) s.ndim = 1, s.d[0] = (int64_t)n;
  } else {
    return node_err(x, SEGCAM_E_UNSUPPORTED, "attribute '%s' (%s) is not supported", an,
                    attr_type_name(type));
  }
  if (strmap_get(&x->vals, np->output[0]) >= 0) {
    free(data);
    return node_err(x, SEGCAM_E_FORMAT, "output '%s' is already defined", np->output[0]);
  }
  return add_named(x, np->output[0], dt, &s, data, NULL);
}

static segcam_status translate_node(ox *x, const Onnx__NodeProto *np, int index) {
  x->np = np;
  x->label = STR(np->name);
  if (!*x->label) x->label = np->n_output > 0 ? STR(np->output[0]) : "";
  if (!*x->label) {
    snprintf(x->label_buf, sizeof x->label_buf, "#%d", index);
    x->label = x->label_buf;
  }
  const char *type = STR(np->op_type), *domain = STR(np->domain);
  if (*domain && strcmp(domain, "ai.onnx") != 0)
    return node_err(x, SEGCAM_E_UNSUPPORTED,
                    "operator domain '%s' is not supported (only the default ONNX domain)", domain);
  if (strcmp(type, "Constant") == 0) return constant_node(x);
  const op_entry *e = NULL;
  for (size_t i = 0; i < sizeof op_table / sizeof op_table[0] && !e; i++)
    if (strcmp(op_table[i].type, type) == 0) e = &op_table[i];
  if (!e) return node_err(x, SEGCAM_E_UNSUPPORTED, "unsupported op type");
  for (size_t i = 0; i < np->n_attribute; i++)
    if (attr_type(np->attribute[i]) == AT_GRAPH)
      return node_err(x, SEGCAM_E_UNSUPPORTED, "subgraph attributes are not supported");

  /* Resolve the inputs; trailing omitted ones ("") are dropped. */
  size_t n_in = np->n_input;
  while (n_in > 0 && !*STR(np->input[n_in - 1])) n_in--;
  if ((int)n_in < e->min_in)
    return node_err(x, SEGCAM_E_FORMAT, "%zu inputs, expected at least %d", n_in, e->min_in);
  if (n_in > (size_t)e->max_in)
    return node_err(x, SEGCAM_E_FORMAT, "%zu inputs, expected at most %d", n_in, e->max_in);
  xnode xn;
  memset(&xn, 0, sizeof xn);
  xn.n_in = (int)n_in;
  xn.in = sc_calloc_n(n_in ? n_in : 1, sizeof *xn.in);
  if (!xn.in) return SEGCAM_E_NOMEM;
  segcam_status st = SEGCAM_OK;
  for (size_t k = 0; k < n_in && st == SEGCAM_OK; k++) {
    const char *nm = STR(np->input[k]);
    xn.in[k] = *nm ? strmap_get(&x->vals, nm) : -1;
    if (*nm && xn.in[k] < 0)
      st = node_err(x, SEGCAM_E_FORMAT,
                    "input '%s' is not defined before this node (not a "
                    "graph input, an initializer or an earlier node's output)",
                    nm);
    else if (xn.in[k] < 0 && ((int)k < e->min_in || e->max_in == MANY))
      st = node_err(x, SEGCAM_E_FORMAT, "required input %zu is missing", k);
  }
  /* By default the internal node takes the ONNX inputs as they are; translators narrow this
   * (n_use = 1 drops inputs read at load) or rebuild it (Resize, chains). */
  xn.n_use = xn.n_in < SC_MAX_IO ? xn.n_in : SC_MAX_IO;
  for (int k = 0; k < xn.n_use; k++) xn.use[k] = xn.in[k];
  xn.n_out = 1;
  if (st == SEGCAM_OK) st = e->fn(x, &xn, e->arg);

  /* Outputs: the first n_out become values; the rest (Dropout's mask, MaxPool's indices,
   * BatchNormalization's training statistics, ...) are dropped, which is only right when nothing
   * reads them. */
  int out[SC_MAX_IO];
  if (st == SEGCAM_OK && (int)np->n_output < xn.n_out)
    st = node_err(x, SEGCAM_E_FORMAT, "no output");
  for (size_t k = 0; k < np->n_output && st == SEGCAM_OK; k++) {
    const char *nm = STR(np->output[k]);
    if ((int)k >= xn.n_out) {
      if (xn.rest_done) continue;
      if (*nm && strmap_get(&x->used, nm) >= 0)
        st = node_err(x, SEGCAM_E_UNSUPPORTED,
                      "output %zu ('%s') is used, but only the first output of %s is supported", k,
                      nm, type);
      continue;
    }
    sc_dtype dt = xn.out_dtypes[k]                 ? xn.out_dtypes[k]
                  : xn.out_dtype                   ? xn.out_dtype
                  : xn.n_use > 0 && xn.use[0] >= 0 ? x->g->values[xn.use[0]].dtype
                                                   : SC_F32;
    if (!*nm) {
      out[k] = sc_graph_add_value(x->g, NULL, dt, NULL);
      if (out[k] < 0) st = SEGCAM_E_NOMEM;
    } else if (strmap_get(&x->vals, nm) >= 0) {
      st = node_err(x, SEGCAM_E_FORMAT, "output '%s' is already defined", nm);
    } else {
      st = add_named(x, nm, dt, NULL, NULL, &out[k]);
    }
  }
  free(xn.in);
  int squeezed = -1; /* 1-D window op: the ONNX output 0, after the Squeeze helper */
  if (st == SEGCAM_OK && xn.squeeze_out) {
    squeezed = out[0];
    out[0] = sc_graph_add_value(x->g, NULL, SC_F32, NULL);
    if (out[0] < 0) st = SEGCAM_E_NOMEM;
  }
  if (st != SEGCAM_OK) {
    free(xn.params);
    return st;
  }
  if (sc_graph_add_node(x->g, x->label, type, xn.op, xn.use, xn.n_use, out, xn.n_out, xn.params) <
      0)
    return SEGCAM_E_NOMEM;
  if (squeezed >= 0) {
    sc_reshape_params *sp = sc_calloc_n(1, sizeof *sp);
    if (!sp) return SEGCAM_E_NOMEM;
    sp->kind = SC_RESHAPE_SQUEEZE;
    sp->n_axes = 1;
    sp->axes[0] = 2;
    if (sc_graph_add_node(x->g, NULL, type, SC_OP_RESHAPE, &out[0], 1, &squeezed, 1, sp) < 0)
      return SEGCAM_E_NOMEM;
  }
  return SEGCAM_OK;
}

/* ---- graph -------------------------------------------------------------------------------- */

/* The channel axis guess of segcam_input_info: a small axis (1..4: gray, RGB, RGBA, RGB+NIR)
 * next to larger spatial ones. */
static segcam_layout guess_layout(const sc_shape *s) {
  if (s->ndim != 4) return SEGCAM_LAYOUT_NCHW;
  int c1 = s->d[1] >= 1 && s->d[1] <= 4, c3 = s->d[3] >= 1 && s->d[3] <= 4;
  if (c1 && !c3) return SEGCAM_LAYOUT_NCHW;
  if (c3 && !c1) return SEGCAM_LAYOUT_NHWC;
  if (s->d[1] < 0 && c3) return SEGCAM_LAYOUT_NHWC;
  return SEGCAM_LAYOUT_NCHW;
}

static segcam_status add_input(ox *x, const Onnx__ValueInfoProto *vi) {
  const char *name = STR(vi->name);
  if (!*name) return sc_error(SEGCAM_E_FORMAT, "%s: a graph input has no name", x->path);
  if (strmap_get(&x->vals, name) >= 0) {
    if (x->g->values[strmap_get(&x->vals, name)].cdata) return SEGCAM_OK; /* initializer */
    return sc_error(SEGCAM_E_FORMAT, "%s: graph input '%s' is listed twice", x->path, name);
  }
  const Onnx__TypeProto__Tensor *tt = vi->type ? vi->type->tensor_type : NULL;
  if (!tt || !tt->shape)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: graph input '%s' declares no tensor shape", x->path,
                    name);
  int et = tt->has_elem_type ? tt->elem_type : DT_FLOAT;
  const dtype_info *d = find_dtype(et);
  if (!d)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: graph input '%s' has element type %s", x->path, name,
                    onnx_type_name(et));
  sc_shape s = {0, {0}};
  if (tt->shape->n_dim > SEGCAM_MAX_DIMS)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: graph input '%s' has %zu dimensions (at most %d)",
                    x->path, name, tt->shape->n_dim, SEGCAM_MAX_DIMS);
  s.ndim = (int)tt->shape->n_dim;
  int64_t known = 1;
  for (int i = 0; i < s.ndim; i++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
    /* dim_param (symbolic) or no value: dynamic.  Some exporters write 0 or -1 for dynamic. */
    int64_t v = dim->has_dim_value ? dim->dim_value : -1;
    if (v > MAX_ELEMS)
      return sc_error(SEGCAM_E_FORMAT,
                      "%s: graph input '%s': dimension %d = %" PRId64 " is too large", x->path,
                      name, i, v);
    s.d[i] = v > 0 ? v : -1;
    if (s.d[i] > 0 && known > MAX_ELEMS / s.d[i])
      return sc_error(SEGCAM_E_FORMAT, "%s: graph input '%s' has more than 2^31 elements", x->path,
                      name);
    if (s.d[i] > 0) known *= s.d[i];
  }
  if (x->g->n_inputs >= (int)(sizeof x->g->inputs / sizeof x->g->inputs[0]))
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: more than %d graph inputs", x->path,
                    (int)(sizeof x->g->inputs / sizeof x->g->inputs[0]));
  int v = 0;
  SC_TRY(add_named(x, name, d->to, &s, NULL, &v));
  x->g->inputs[x->g->n_inputs++] = v;
  return SEGCAM_OK;
}

static segcam_status load_graph(ox *x, const Onnx__GraphProto *gp) {
  sc_graph *g = x->g;
  if (gp->n_sparse_initializer)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: sparse initializers are not supported", x->path);
  /* Names read by nodes or listed as outputs: dropping an extra node output needs this. */
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t k = 0; k < gp->node[i]->n_input; k++)
      if (*STR(gp->node[i]->input[k])) SC_TRY(strmap_put(&x->used, gp->node[i]->input[k], 1));
  for (size_t i = 0; i < gp->n_output; i++)
    if (*STR(gp->output[i]->name)) SC_TRY(strmap_put(&x->used, gp->output[i]->name, 1));

  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *t = gp->initializer[i];
    const char *name = STR(t->name);
    char what[512];
    snprintf(what, sizeof what, "initializer '%.400s'", name);
    if (!*name) return sc_error(SEGCAM_E_FORMAT, "%s: an initializer has no name", x->path);
    if (strmap_get(&x->vals, name) >= 0)
      return sc_error(SEGCAM_E_FORMAT, "%s: %s is defined twice", x->path, what);
    sc_dtype dt;
    sc_shape s;
    void *data;
    SC_TRY(read_tensor(x, t, what, &dt, &s, &data));
    SC_TRY(add_named(x, name, dt, &s, data, NULL));
  }
  /* Graph inputs that are also initializers are constants (IR.md: overridable defaults). */
  for (size_t i = 0; i < gp->n_input; i++) SC_TRY(add_input(x, gp->input[i]));
  if (g->n_inputs > 0) g->input_layout = guess_layout(&g->values[g->inputs[0]].shape);

  for (size_t i = 0; i < gp->n_node; i++) SC_TRY(translate_node(x, gp->node[i], (int)i));
  x->np = NULL;

  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = STR(gp->output[i]->name);
    int v = *name ? strmap_get(&x->vals, name) : -1;
    if (v < 0)
      return sc_error(SEGCAM_E_FORMAT, "%s: graph output '%s' is not produced by any node", x->path,
                      name);
    if (g->n_outputs >= (int)(sizeof g->outputs / sizeof g->outputs[0]))
      return sc_error(SEGCAM_E_UNSUPPORTED, "%s: more than %d graph outputs", x->path,
                      (int)(sizeof g->outputs / sizeof g->outputs[0]));
    g->outputs[g->n_outputs++] = v;
  }
  return sc_graph_validate(g);
}

segcam_status sc_onnx_load(const char *path, const uint8_t *bytes, size_t n, sc_graph *g) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, bytes);
  if (!m || !m->graph || m->graph->n_node == 0) {
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: not an ONNX, Keras .h5 or .keras model (or a truncated or corrupt one)",
                    path);
  }
  g->format = "onnx";
  ox x;
  memset(&x, 0, sizeof x);
  x.g = g;
  x.path = g->path && *g->path ? g->path : path;
  int64_t opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = STR(m->opset_import[i]->domain);
    if (!*d || strcmp(d, "ai.onnx") == 0)
      opset = m->opset_import[i]->has_version ? m->opset_import[i]->version : -1;
  }
  segcam_status st;
  if (opset < 0) {
    st = sc_error(SEGCAM_E_UNSUPPORTED,
                  "%s: the model imports no version of the default ONNX operator set", x.path);
  } else if (opset < OPSET_MIN || opset > OPSET_MAX) {
    st = sc_error(SEGCAM_E_UNSUPPORTED,
                  "%s: ONNX opset %" PRId64 " is not supported (segcam reads opsets %d to %d)",
                  x.path, opset, OPSET_MIN, OPSET_MAX);
  } else {
    x.opset = (int)opset;
    st = load_graph(&x, m->graph);
  }
  strmap_free(&x.vals);
  strmap_free(&x.used);
  onnx__model_proto__free_unpacked(m, NULL);
  return st;
}
