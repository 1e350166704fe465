"""The API surfaces, one module per feature, SOAP and REST side by side. Imports door, process, lower packages."""
