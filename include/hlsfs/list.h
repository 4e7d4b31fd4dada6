/*
 * list: the one doubly linked list of hlsfs, intrusive and circular. A
 * struct list_node sits in each element; a struct list is a node of its
 * own that marks both ends (empty: it points at itself), so insertion and
 * removal never test for the ends. An element may sit in several lists,
 * one node for each. Nothing here allocates or locks: the owner of the
 * list does both.
 *
 *     struct item { int v; struct list_node link; };
 *     struct list items;
 *     list_init(&items);
 *     list_push_front(&items, &it->link);
 *     for (struct list_node *n = list_first(&items); n != list_end(&items); n = n->next)
 *         use(LIST_ENTRY(n, struct item, link));
 */
#ifndef HLSFS_LIST_H
#define HLSFS_LIST_H

#include <stddef.h>

struct list_node {
    struct list_node *prev, *next;    /* NULL, NULL: in no list */
};

struct list {
    struct list_node end;
    size_t           n;
};

/* The element that holds node n, as the member 'member' of type 'type'. */
#define LIST_ENTRY(n, type, member) \
    ((type *)(void *)((char *)(n) - offsetof(type, member)))

static inline void list_init(struct list *l)
{
    l->end.prev = l->end.next = &l->end;
    l->n = 0;
}

static inline int list_linked(const struct list_node *n)
{
    return n->next != NULL;
}

static inline struct list_node *list_end(struct list *l)
{
    return &l->end;
}

/* First and last node, or list_end(l) when empty. */
static inline struct list_node *list_first(struct list *l)
{
    return l->end.next;
}

static inline struct list_node *list_last(struct list *l)
{
    return l->end.prev;
}

static inline void list_insert_after_(struct list *l, struct list_node *at,
                                      struct list_node *n)
{
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
    l->n++;
}

static inline void list_push_front(struct list *l, struct list_node *n)
{
    list_insert_after_(l, &l->end, n);
}

static inline void list_push_back(struct list *l, struct list_node *n)
{
    list_insert_after_(l, l->end.prev, n);
}

/* Unlink n from l; a node in no list is left alone. */
static inline void list_remove(struct list *l, struct list_node *n)
{
    if (!list_linked(n))
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    l->n--;
}

#endif
