print(typeof 1, typeof "s", typeof {}, typeof null, typeof undefined, typeof function () {});
