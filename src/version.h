/* The release, shown by commis --version and commisd --version. */
#ifndef COMMIS_VERSION_H
#define COMMIS_VERSION_H

#define COMMIS_VERSION	"0.1.0"

#endif
