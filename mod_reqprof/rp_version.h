/* mod_reqprof's version, its one source: the report names it (a generator
 * meta element), and debian/changelog's top entry carries the same string
 * (tests/integration/test_debian_package.py checks that they agree). */
#ifndef RP_VERSION_H
#define RP_VERSION_H

#define RP_VERSION "0.1.0"

#endif
