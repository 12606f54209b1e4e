#include "rp_tree.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

static apr_status_t free_slots(void *data)
{
    rp_tree_t *tree = data;
    free(tree->slots);
    tree->slots = NULL;
    return APR_SUCCESS;
}

rp_tree_t *rp_tree_create(apr_pool_t *pool)
{
    rp_tree_t *tree = apr_pcalloc(pool, sizeof(*tree));
    tree->pool = pool;
    apr_pool_cleanup_register(pool, tree, free_slots, apr_pool_cleanup_null);
    return tree;
}

static size_t slot_of(const rp_node_t *parent, const rp_func_t *func,
                      size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ull ^
                 (uint64_t)(uintptr_t)func * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)(h * 0xBF58476D1CE4E5B9ull >> 17) & mask;
}

/* Keeps the table at most half full; 0 if memory ran out. */
static int reserve_slot(rp_tree_t *tree)
{
    size_t size = tree->slots ? tree->slot_mask + 1 : 0;
    if ((size_t)tree->node_count + 1 <= size / 2) {
        return 1;
    }
    size_t grown = size ? size * 2 : 256;
    rp_node_t **slots = calloc(grown, sizeof(*slots));
    if (slots == NULL) {
        return 0;
    }
    for (size_t i = 0; i < size; i++) {
        rp_node_t *n = tree->slots[i];
        if (n != NULL) {
            size_t at = slot_of(n->parent, n->func, grown - 1);
            while (slots[at] != NULL) {
                at = (at + 1) & (grown - 1);
            }
            slots[at] = n;
        }
    }
    free(tree->slots);
    tree->slots = slots;
    tree->slot_mask = grown - 1;
    return 1;
}

static rp_node_t *child_for(rp_tree_t *tree, rp_node_t *parent,
                            const rp_func_t *func)
{
    size_t at = 0;
    if (tree->slots != NULL) {
        at = slot_of(parent, func, tree->slot_mask);
        for (rp_node_t *n; (n = tree->slots[at]) != NULL;
             at = (at + 1) & tree->slot_mask) {
            if (n->parent == parent && n->func == func) {
                return n;
            }
        }
    }
    int indexed = reserve_slot(tree);
    rp_node_t *child = apr_pcalloc(tree->pool, sizeof(*child));
    child->func = func;
    child->parent = parent;
    child->depth = parent->depth + 1;
    /* Prepended: the order of siblings is set by rp_tree_sort. */
    child->next_sibling = parent->first_child;
    parent->first_child = child;
    if (indexed) {
        at = slot_of(parent, func, tree->slot_mask);
        while (tree->slots[at] != NULL) {
            at = (at + 1) & tree->slot_mask;
        }
        tree->slots[at] = child;
    }
    tree->node_count++;
    if (child->depth > tree->max_depth) {
        tree->max_depth = child->depth;
    }
    return child;
}

rp_node_t *rp_tree_add(rp_tree_t *tree, const rp_func_t *const *frames,
                       unsigned depth, uint64_t weight, int waiting)
{
    uint64_t wait = waiting ? weight : 0;
    rp_node_t *node = &tree->root;
    node->total += weight;
    node->wait += wait;
    for (unsigned i = 0; i < depth; i++) {
        node = child_for(tree, node, frames[i]);
        node->total += weight;
        node->wait += wait;
    }
    node->self += weight;
    return node;
}

static int heavier_first(const rp_node_t *a, const rp_node_t *b)
{
    if (a->total != b->total) {
        return a->total > b->total;
    }
    const char *an = a->func ? a->func->name : "";
    const char *bn = b->func ? b->func->name : "";
    return strcmp(an, bn) < 0;
}

/* Merge sort of a sibling list: stable and O(n log n) without an array. */
static rp_node_t *sort_siblings(rp_node_t *list)
{
    if (list == NULL || list->next_sibling == NULL) {
        return list;
    }
    rp_node_t *slow = list;
    rp_node_t *fast = list->next_sibling;
    while (fast != NULL && fast->next_sibling != NULL) {
        slow = slow->next_sibling;
        fast = fast->next_sibling->next_sibling;
    }
    rp_node_t *second = slow->next_sibling;
    slow->next_sibling = NULL;
    rp_node_t *a = sort_siblings(list);
    rp_node_t *b = sort_siblings(second);
    rp_node_t head = {0};
    rp_node_t *tail = &head;
    while (a != NULL && b != NULL) {
        rp_node_t **pick = heavier_first(b, a) ? &b : &a;
        tail->next_sibling = *pick;
        tail = *pick;
        *pick = (*pick)->next_sibling;
    }
    tail->next_sibling = a ? a : b;
    return head.next_sibling;
}

static void sort_subtree(rp_node_t *node)
{
    node->first_child = sort_siblings(node->first_child);
    for (rp_node_t *c = node->first_child; c != NULL; c = c->next_sibling) {
        sort_subtree(c);
    }
}

void rp_tree_sort(rp_tree_t *tree)
{
    sort_subtree(&tree->root);
}

/* A max-heap of nodes by total. */
typedef struct node_heap {
    const rp_node_t **at;
    size_t count, cap;
} node_heap_t;

static int heap_push(node_heap_t *h, const rp_node_t *n)
{
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        const rp_node_t **at = realloc(h->at, cap * sizeof(*at));
        if (at == NULL) {
            return -1;
        }
        h->at = at;
        h->cap = cap;
    }
    size_t i = h->count++;
    while (i > 0 && h->at[(i - 1) / 2]->total < n->total) {
        h->at[i] = h->at[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->at[i] = n;
    return 0;
}

static const rp_node_t *heap_pop(node_heap_t *h)
{
    const rp_node_t *top = h->at[0];
    const rp_node_t *last = h->at[--h->count];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->count) {
            break;
        }
        if (c + 1 < h->count && h->at[c + 1]->total > h->at[c]->total) {
            c++;
        }
        if (h->at[c]->total <= last->total) {
            break;
        }
        h->at[i] = h->at[c];
        i = c;
    }
    if (h->count > 0) {
        h->at[i] = last;
    }
    return top;
}

uint64_t rp_tree_min_weight(const rp_tree_t *tree, unsigned max_nodes)
{
    if (tree->node_count <= max_nodes) {
        return 0;
    }
    /* Heaviest first from the root: as no node outweighs its caller, the
     * nodes come out in the order of a sort of all totals. */
    node_heap_t h = {0};
    uint64_t min = tree->root.total; /* out of memory: the top level */
    int failed = 0;
    for (const rp_node_t *c = tree->root.first_child; c && !failed;
         c = c->next_sibling) {
        failed = heap_push(&h, c) != 0;
    }
    for (unsigned taken = 0; !failed && h.count > 0; taken++) {
        const rp_node_t *n = heap_pop(&h);
        if (taken == max_nodes) {
            min = n->total + 1;
            break;
        }
        for (const rp_node_t *c = n->first_child; c && !failed;
             c = c->next_sibling) {
            failed = heap_push(&h, c) != 0;
        }
    }
    free(h.at);
    return min;
}
