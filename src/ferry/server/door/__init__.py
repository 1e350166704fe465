"""What stops or admits a request before the app. Imports auth, errors, soap; never api, process, console."""
