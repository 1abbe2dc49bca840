#ifndef DEPLOYCTL_CYAML_SHIM_H
#define DEPLOYCTL_CYAML_SHIM_H

#include <yaml.h>

#endif
