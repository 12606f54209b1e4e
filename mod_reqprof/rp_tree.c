#include "rp_tree.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <string.h>

typedef struct child_key {
    const rp_node_t *parent;
    const rp_func_t *func;
} child_key_t;

rp_tree_t *rp_tree_create(apr_pool_t *pool)
{
    rp_tree_t *tree = apr_pcalloc(pool, sizeof(*tree));
    tree->pool = pool;
    tree->children = apr_hash_make(pool);
    return tree;
}

static rp_node_t *child_for(rp_tree_t *tree, rp_node_t *parent,
                            const rp_func_t *func)
{
    child_key_t key = {parent, func};
    rp_node_t *child = apr_hash_get(tree->children, &key, sizeof(key));
    if (child != NULL) {
        return child;
    }
    child = apr_pcalloc(tree->pool, sizeof(*child));
    child->func = func;
    child->parent = parent;
    child->depth = parent->depth + 1;
    /* Prepended: the order of siblings is set by rp_tree_sort. */
    child->next_sibling = parent->first_child;
    parent->first_child = child;
    child_key_t *stored = apr_pmemdup(tree->pool, &key, sizeof(key));
    apr_hash_set(tree->children, stored, sizeof(key), child);
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
