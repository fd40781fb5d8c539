// The sparsehls kernel library (include this one). Needs sparsehls_consts.h,
// generated from compiler/golden/intops.py, on the include path.
#ifndef SPARSEHLS_H
#define SPARSEHLS_H

#include "sparsehls_attention.h"
#include "sparsehls_elementwise.h"
#include "sparsehls_embed.h"
#include "sparsehls_layernorm.h"
#include "sparsehls_linear.h"
#include "sparsehls_prims.h"
#include "sparsehls_weights.h"

#endif
