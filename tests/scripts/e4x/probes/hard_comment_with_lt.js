// var x = <a/>;
/* <b>not xml</b> */
print("comments ok");
